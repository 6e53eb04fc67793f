#include "sys/io.hpp"

#include <cerrno>
#include <cstdint>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fleet {

int write_all(int fd, std::string_view data) {
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        done += static_cast<size_t>(n);
    }
    return 0;
}

Result<std::string> read_fd(int fd, size_t max_bytes) {
    std::string text;
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return system_error("read", errno);
        }
        if (n == 0) {
            return text;
        }
        if (text.size() + static_cast<size_t>(n) > max_bytes) {
            return input_error("more than " + std::to_string(max_bytes) + " bytes");
        }
        text.append(buffer, static_cast<size_t>(n));
    }
}

Result<Fd> open_regular_at(int dir_fd, const std::string& path, size_t max_bytes) {
    Fd fd(
        ::openat(dir_fd, path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) {
        return system_error(path, errno);
    }
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) {
        return system_error(path, errno);
    }
    if (!S_ISREG(info.st_mode)) {
        return input_error(path + " is not a regular file");
    }
    if (static_cast<uint64_t>(info.st_size) > max_bytes) {
        return input_error(path + " has more than " + std::to_string(max_bytes) + " bytes");
    }
    return fd;
}

Result<std::string> read_file_at(int dir_fd, const std::string& path, size_t max_bytes) {
    const Result<Fd> fd = open_regular_at(dir_fd, path, max_bytes);
    if (!fd) {
        return fd.error();
    }
    Result<std::string> text = read_fd(fd->get(), max_bytes);
    if (!text) {
        return Error{text.error().kind, path + ": " + text.error().message};
    }
    return text;
}

int remove_tree_at(int parent_fd, const char* name, int max_depth) {
    const int fd = ::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return 0;
        }
        if (errno != ENOTDIR && errno != ELOOP) {
            return errno;
        }
        return ::unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT ? 0 : errno;
    }
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
        const int error = errno;
        ::close(fd);
        return error;
    }
    int error = 0;
    while (const dirent* entry = ::readdir(dir)) {
        const std::string_view entry_name(entry->d_name);
        if (entry_name == "." || entry_name == "..") {
            continue;
        }
        if (::unlinkat(fd, entry->d_name, 0) == 0 || errno == ENOENT) {
            continue;
        }
        if (errno != EISDIR) {
            error = error != 0 ? error : errno;
            continue;
        }
        const int nested = max_depth > 0 ? remove_tree_at(fd, entry->d_name, max_depth - 1) : ELOOP;
        error = error != 0 ? error : nested;
    }
    ::closedir(dir);
    if (::unlinkat(parent_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        error = error != 0 ? error : errno;
    }
    return error;
}

int grow_pipe(int fd, size_t capacity) {
    const int current = ::fcntl(fd, F_GETPIPE_SZ);
    if (current < 0) {
        return errno;
    }
    if (static_cast<size_t>(current) >= capacity) {
        return 0;
    }
    return ::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(capacity)) < 0 ? errno : 0;
}

} // namespace fleet
