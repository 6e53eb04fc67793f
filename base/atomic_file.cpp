#include "base/atomic_file.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/io.hpp"

namespace fleet {

AtomicFile::AtomicFile(int dir_fd, std::string name, mode_t mode)
    : m_dir_fd(dir_fd), m_name(std::move(name)), m_mode(mode) {}

AtomicFile::~AtomicFile() {
    if (!m_temp_name.empty() && !m_committed) {
        m_fd.reset();
        ::unlinkat(m_dir_fd, m_temp_name.c_str(), 0);
    }
}

Status AtomicFile::open() {
    unsigned int random = 0;
    if (getrandom(&random, sizeof random, 0) != sizeof random) {
        return system_error("getrandom", errno);
    }
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", random);
    m_temp_name = "." + m_name + "." + suffix + ".tmp";
    m_fd = Fd(::openat(m_dir_fd, m_temp_name.c_str(),
                       O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, m_mode));
    if (!m_fd.valid()) {
        const int err = errno;
        m_temp_name.clear();
        return system_error("create " + m_name + " temp file", err);
    }
    if (::fchmod(m_fd.get(), m_mode) != 0) { // exactly `mode`: the umask does not narrow it
        return system_error("fchmod " + m_name + " temp file", errno); // the destructor unlinks
    }
    return Ok{};
}

Status AtomicFile::write(std::string_view data) {
    if (const int err = write_all(m_fd.get(), data); err != 0) {
        return system_error("write " + m_name, err);
    }
    return Ok{};
}

Status AtomicFile::finish() {
    if (::fsync(m_fd.get()) != 0) {
        return system_error("fsync " + m_name, errno);
    }
    if (::close(m_fd.release()) != 0) {
        return system_error("close " + m_name, errno);
    }
    return Ok{};
}

Status AtomicFile::commit() {
    if (m_fd.valid()) {
        if (Status finished = finish(); !finished) {
            return finished;
        }
    }
    if (::renameat(m_dir_fd, m_temp_name.c_str(), m_dir_fd, m_name.c_str()) != 0) {
        return system_error("rename " + m_name, errno);
    }
    m_committed = true;
    if (::fsync(m_dir_fd) != 0) {
        return system_error("fsync directory of " + m_name, errno);
    }
    return Ok{};
}

Status write_file_atomically(int dir_fd, const std::string& name, std::string_view data,
                             mode_t mode) {
    AtomicFile file(dir_fd, name, mode);
    if (Status s = file.open(); !s) {
        return s;
    }
    if (Status s = file.write(data); !s) {
        return s;
    }
    return file.commit();
}

} // namespace fleet
