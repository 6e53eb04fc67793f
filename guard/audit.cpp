#include "audit.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "io.hpp"

namespace fleet {

namespace {

Status check_root_dir(int fd, const std::string& dir) {
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
        return system_error("audit log directory " + dir, errno);
    }
    if (!S_ISDIR(info.st_mode) || info.st_uid != 0 || (info.st_mode & 022) != 0) {
        return input_error("audit log directory " + dir +
                           " must be a directory owned by root and not writable by group or "
                           "others");
    }
    return Ok{};
}

} // namespace

Result<AuditLog> AuditLog::open(const std::string& path, Access access) {
    const size_t slash = path.rfind('/');
    if (path.empty() || path[0] != '/' || slash + 1 >= path.size()) {
        return input_error("audit log " + path + " is not an absolute file path");
    }
    const std::string dir = slash == 0 ? "/" : path.substr(0, slash);
    const std::string parent = dir.substr(0, std::max<size_t>(dir.rfind('/'), 1));
    const Fd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent_fd.valid()) {
        return system_error("audit log directory " + parent, errno);
    }
    if (Status trusted = check_root_dir(parent_fd.get(), parent); !trusted) {
        return trusted.error();
    }
    const std::string dir_name = dir.substr(dir.rfind('/') + 1);
    if (dir != "/" && ::geteuid() == 0 && ::mkdirat(parent_fd.get(), dir_name.c_str(), 0700) != 0 &&
        errno != EEXIST) {
        return system_error("audit log directory " + dir, errno);
    }
    const Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir_fd.valid()) {
        return system_error("audit log directory " + dir, errno);
    }
    if (Status trusted = check_root_dir(dir_fd.get(), dir); !trusted) {
        return trusted.error();
    }
    const std::string name = path.substr(slash + 1);
    // Only root creates it: a log another user created would be theirs.
    const int create = ::geteuid() == 0 ? O_CREAT : 0;
    Fd fd(::openat(dir_fd.get(), name.c_str(),
                   O_WRONLY | O_APPEND | create | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
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

void syslog_audit(const char* ident, const std::string& line, bool allowed) {
    ::openlog(ident, LOG_PID, LOG_AUTHPRIV);
    ::syslog(LOG_AUTHPRIV | (allowed ? LOG_INFO : LOG_NOTICE), "%s", line.c_str());
    ::closelog();
}

} // namespace fleet
