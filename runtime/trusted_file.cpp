#include "trusted_file.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>

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

} // namespace fleet
