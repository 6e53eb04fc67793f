#include "trusted_file.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>

#include "fd.hpp"
#include "io.hpp"

namespace fleet {

Status check_root_owned(const std::string& path, const struct stat& file,
                        const std::string& subject, StickyAncestors ancestors) {
    if (!S_ISREG(file.st_mode)) {
        return input_error(subject + " is not a regular file");
    }
    if (file.st_uid != 0 || (file.st_mode & 022) != 0) {
        return input_error(subject + " must be owned by root and not writable by group or others "
                                     "(chown root: and chmod go-w it)");
    }
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr) {
        return system_error(subject, errno);
    }
    std::string dir = resolved;
    while (dir != "/") {
        dir = dir.substr(0, std::max<size_t>(dir.rfind('/'), 1));
        struct stat info {};
        if (::stat(dir.c_str(), &info) != 0) {
            return system_error(subject + ": directory " + dir, errno);
        }
        const bool writable_by_others = (info.st_mode & 022) != 0;
        const bool sticky_allowed =
            ancestors == StickyAncestors::allowed && (info.st_mode & S_ISVTX) != 0;
        if (info.st_uid != 0 || (writable_by_others && !sticky_allowed)) {
            return input_error(subject + ": directory " + dir +
                               " must be owned by root and not writable by group or others");
        }
    }
    return Ok{};
}

Result<std::optional<std::string>> read_root_owned_file(const std::string& path,
                                                        const std::string& subject,
                                                        StickyAncestors ancestors, size_t max_bytes,
                                                        bool missing_ok) {
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK));
    if (!fd.valid()) {
        if (errno == ENOENT && missing_ok) {
            return std::optional<std::string>();
        }
        return input_error(subject + ": " + std::strerror(errno));
    }
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) {
        return system_error(subject, errno);
    }
    if (Status owned = check_root_owned(path, info, subject, ancestors); !owned) {
        return owned.error();
    }
    Result<std::string> text = read_fd(fd.get(), max_bytes);
    if (!text) {
        return input_error(subject + ": " + text.error().message);
    }
    return std::optional<std::string>(std::move(*text));
}

} // namespace fleet
