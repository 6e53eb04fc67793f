#include "guard/common/audit.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <thread>
#include <unistd.h>

#include "base/trusted_file.hpp"
#include "guard/common/json_line.hpp"
#include "sys/io.hpp"

namespace fleet {

Result<AuditLog> AuditLog::open(const std::string& path, Access access) {
    const size_t slash = path.rfind('/');
    if (path.empty() || path[0] != '/' || slash == 0 || slash + 1 >= path.size()) {
        return input_error("audit log " + path + " is not a file path in a directory of its own");
    }
    const std::string dir = path.substr(0, slash);
    // Only root creates: the directory (root's log, when missing) and the file. A program that
    // is not root (fleet-diag as diag) appends to what its setup made; a log another user
    // created would be theirs.
    const bool create = ::geteuid() == 0 && access == Access::root_only;
    if (create && ::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return system_error("audit log directory " + dir, errno);
    }
    const Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir_fd.valid()) {
        return system_error("audit log directory " + dir, errno);
    }
    // Root's own directory, and above it nothing others can write (their group may: Ubuntu's
    // /var/log is root:syslog 0775).
    if (Status trusted = check_trusted_directory(dir_fd.get(), "audit log directory " + dir,
                                                 Ancestors::group_writable_ok);
        !trusted) {
        return trusted.error();
    }
    const std::string name = path.substr(slash + 1);
    Fd fd(::openat(dir_fd.get(), name.c_str(),
                   O_WRONLY | O_APPEND | (create ? O_CREAT : 0) | O_NOFOLLOW | O_CLOEXEC |
                       O_NOCTTY | O_NONBLOCK,
                   0600));
    if (!fd.valid()) {
        return system_error("audit log " + path, errno);
    }
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) {
        return system_error("audit log " + path, errno);
    }
    const mode_t forbidden = access == Access::group_write ? 057 : 077;
    if (!S_ISREG(info.st_mode) || info.st_uid != 0 || (info.st_mode & forbidden) != 0) {
        return input_error("audit log " + path + " must be a regular file owned by root, mode " +
                           (access == Access::group_write ? "0620 or 0600" : "0600"));
    }
    return AuditLog(std::move(fd), path);
}

Status AuditLog::append(const std::string& line) const {
    if (const int err = write_all(m_fd.get(), line + "\n"); err != 0) {
        return system_error("audit log " + m_path, err);
    }
    return Ok{};
}

Status AuditLog::lock_exclusive(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (::flock(m_fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            return system_error("lock " + m_path, errno);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return input_error("another package action is still running (its lock on " + m_path +
                               " was not free within " + std::to_string(timeout.count() / 1000) +
                               " s)");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return Ok{};
}

Status AuditSinks::write(const nlohmann::json& line, bool allowed) const {
    const std::string text = json_line(line);
    ::openlog(m_ident, LOG_PID, LOG_AUTHPRIV);
    ::syslog(LOG_AUTHPRIV | (allowed ? LOG_INFO : LOG_NOTICE), "%s", text.c_str());
    ::closelog();
    return m_file ? m_file->append(text) : Status(Ok{});
}

} // namespace fleet
