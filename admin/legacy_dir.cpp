#include "admin/legacy_dir.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/fd.hpp"

namespace fleet {

namespace {

constexpr mode_t k_dir_mode = 0755;

// `path` split into its components; an Error for anything but an absolute, plain path.
Result<std::vector<std::string>> components(const std::string& path) {
    if (path.size() < 2 || path[0] != '/') {
        return input_error("legacy directory '" + path + "' is not an absolute path");
    }
    std::vector<std::string> parts;
    size_t start = 1;
    while (start <= path.size()) {
        const size_t end = std::min(path.find('/', start), path.size());
        const std::string part = path.substr(start, end - start);
        if (part.empty() || part == "." || part == "..") {
            return input_error("legacy directory '" + path +
                               "' must be a plain path (no '.', '..', '//' or trailing '/')");
        }
        parts.push_back(part);
        start = end + 1;
    }
    return parts;
}

// The directory that holds `parts.back()`, opened O_PATH without following any symlink. Every
// directory above that one must be root's and not writable by group or others: the parent may
// be the user's home (it is, for the old scripts), nothing above it may.
Result<Fd> open_parent(const std::string& path, const std::vector<std::string>& parts) {
    Fd dir(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    std::string shown = "/";
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
        struct stat info {};
        if (!dir.valid() || ::fstat(dir.get(), &info) != 0) {
            return system_error("legacy directory " + path + ": " + shown, errno);
        }
        if (info.st_uid != 0 || (info.st_mode & 022) != 0) {
            return input_error("legacy directory " + path + ": " + shown +
                               " must be root's and not writable by group or others: whoever "
                               "can write it could swap the directories below");
        }
        shown = (shown == "/" ? "" : shown) + "/" + parts[i];
        dir = Fd(
            ::openat(dir.get(), parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!dir.valid()) {
            return errno == ELOOP || errno == ENOTDIR
                       ? input_error("legacy directory " + path + ": " + shown +
                                     " is a symlink or not a directory: refused")
                       : system_error("legacy directory " + path + ": " + shown, errno);
        }
    }
    if (!dir.valid()) {
        return system_error("legacy directory " + path, errno);
    }
    return dir;
}

// Whether `path` (walked again from "/", no symlink followed) is still the directory `dir` is
// open on: the user could have renamed it away before it became immutable.
bool still_there(const std::string& path, int dir) {
    Result<std::vector<std::string>> parts = components(path);
    if (!parts) {
        return false;
    }
    Result<Fd> parent = open_parent(path, *parts);
    struct stat there {};
    struct stat own {};
    return parent &&
           ::fstatat(parent->get(), parts->back().c_str(), &there, AT_SYMLINK_NOFOLLOW) == 0 &&
           ::fstat(dir, &own) == 0 && there.st_dev == own.st_dev && there.st_ino == own.st_ino;
}

Result<unsigned> get_flags(int fd, const std::string& path) {
    unsigned flags = 0;
    if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
        return system_error("read the attributes of " + path, errno);
    }
    return flags;
}

Status set_flags(int fd, unsigned flags, const std::string& path) {
    if (::ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) {
        return system_error("set the attributes of " + path, errno);
    }
    return Ok{};
}

bool links_to(int dir, const std::string& name, const std::string& target) {
    char buffer[PATH_MAX];
    const ssize_t n = ::readlinkat(dir, name.c_str(), buffer, sizeof buffer);
    return n > 0 && static_cast<size_t>(n) < sizeof buffer &&
           std::string(buffer, static_cast<size_t>(n)) == target;
}

bool exists_at(int dir, const std::string& name) {
    struct stat info {};
    return ::fstatat(dir, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0;
}

// What to use instead when the directory cannot be made immutable: the target's own names.
std::string instead(const LegacyDirRequest& request) {
    const std::string bin = request.target.substr(0, request.target.rfind('/'));
    return "in SSM command lines use " + bin +
           "/dispatch-unified TASK PROMPT (for "
           "dispatch-unified.sh) or " +
           request.target +
           " -a AGENT TASK PROMPT (for dispatch-AGENT.sh), which only root can change";
}

// The legacy directory itself, opened for changes: created when missing (with DryRun::yes, an
// invalid Fd and a change noted instead).
Result<Fd> open_legacy(const LegacyDirRequest& request, Changes& changes, bool create) {
    Result<std::vector<std::string>> parts = components(request.dir);
    if (!parts) {
        return parts.error();
    }
    Result<Fd> parent = open_parent(request.dir, *parts);
    if (!parent) {
        return parent.error();
    }
    const std::string& name = parts->back();
    struct stat info {};
    if (::fstatat(parent->get(), name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) {
            return system_error("legacy directory " + request.dir, errno);
        }
        if (!create) {
            return Fd();
        }
        changes.push_back("create " + request.dir);
        if (request.dry_run == DryRun::yes) {
            return Fd();
        }
        if (::mkdirat(parent->get(), name.c_str(), k_dir_mode) != 0) {
            return system_error("create " + request.dir, errno);
        }
    } else if (!S_ISDIR(info.st_mode)) {
        return input_error("legacy directory " + request.dir +
                           " is a symlink or not a directory (replaced by someone?): refused; "
                           "move it away and run again");
    }
    Fd dir(::openat(parent->get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) {
        return errno == ELOOP || errno == ENOTDIR
                   ? input_error("legacy directory " + request.dir + " was replaced: refused")
                   : system_error("open " + request.dir, errno);
    }
    return dir;
}

} // namespace

namespace {

// What install would change (the dry run's answer); empty when all is done already. `dir`
// invalid: a dry run with no directory yet.
Result<Changes> planned_changes(const Fd& dir, const struct stat& info, bool immutable,
                                const LegacyDirRequest& request) {
    const std::string& path = request.dir;
    Changes todo;
    if (!dir.valid() || info.st_uid != 0 || info.st_gid != 0 ||
        (info.st_mode & 07777) != k_dir_mode) {
        todo.push_back("make " + path + " root's, 0755: root runs what it holds");
    }
    for (const std::string& name : legacy_script_names()) {
        if (dir.valid() && links_to(dir.get(), name, request.target)) {
            continue;
        }
        if (dir.valid() && exists_at(dir.get(), name)) {
            if (exists_at(dir.get(), name + ".orig")) {
                return input_error(path + "/" + name + " and " + name +
                                   ".orig both exist; move one away and run again");
            }
            todo.push_back("keep the old " + name + " as " + name + ".orig");
        }
        todo.push_back("link " + path + "/" + name + " to " + request.target);
    }
    if (todo.empty() && immutable) {
        return todo;
    }
    todo.push_back("make " + path +
                   " immutable (chattr +i): no one but root can rename, "
                   "remove or change what is in it");
    return todo;
}

// Takes the links away again and clears the flag: a directory that is not immutable (or not
// where SSM looks) must not lead root anywhere.
Status give_up(const Fd& dir, const std::string& path, const std::vector<std::string>& linked,
               Changes& changes, const Error& error) {
    if (Result<unsigned> now = get_flags(dir.get(), path); now) {
        [[maybe_unused]] const Status cleared = set_flags(dir.get(), *now & ~FS_IMMUTABLE_FL, path);
    }
    for (const std::string& name : linked) {
        ::unlinkat(dir.get(), name.c_str(), 0);
    }
    if (!linked.empty()) {
        changes.push_back("removed the links again (the old scripts stay as .orig)");
    }
    return error;
}

// The links (the old scripts kept as .orig), then the directory immutable, then a last look
// that it is still where SSM's command lines name it. Any failure from the first link on
// gives up (give_up).
Status link_and_seal(const Fd& dir, const LegacyDirRequest& request, Changes& changes) {
    const std::string& path = request.dir;
    std::vector<std::string> linked;
    for (const std::string& name : legacy_script_names()) {
        if (links_to(dir.get(), name, request.target)) {
            linked.push_back(name);
            continue;
        }
        if (exists_at(dir.get(), name) &&
            ::renameat(dir.get(), name.c_str(), dir.get(), (name + ".orig").c_str()) != 0) {
            return give_up(dir, path, linked, changes,
                           system_error("keep " + path + "/" + name + " as .orig", errno));
        }
        if (::symlinkat(request.target.c_str(), dir.get(), name.c_str()) != 0) {
            return give_up(dir, path, linked, changes,
                           system_error("link " + path + "/" + name, errno));
        }
        linked.push_back(name);
    }
    Result<unsigned> now = get_flags(dir.get(), path);
    const Status made = now ? set_flags(dir.get(), *now | FS_IMMUTABLE_FL, path) : now.error();
    Result<unsigned> check = get_flags(dir.get(), path);
    if (!made || !check || (*check & FS_IMMUTABLE_FL) == 0) {
        return give_up(
            dir, path, linked, changes,
            input_error(path + " cannot be made immutable on this filesystem (" +
                        (made ? std::string("the flag did not stick") : made.error().message) +
                        "), so its old command lines are not kept: " + instead(request)));
    }
    // Immutable now, so this answer cannot change any more: is it still the directory SSM's
    // command lines name, or was it renamed away meanwhile?
    if (!still_there(path, dir.get())) {
        return give_up(dir, path, linked, changes,
                       input_error(path + " was moved while it was set up (by its parent's "
                                          "owner?): refused; see what is there now and run "
                                          "again"));
    }
    return Ok{};
}

} // namespace

Status install_legacy_dir(const LegacyDirRequest& request, Changes& changes) {
    if (request.target.empty() || request.target[0] != '/') {
        return input_error("link target '" + request.target + "' is not an absolute path");
    }
    Result<Fd> opened = open_legacy(request, changes, true);
    if (!opened) {
        return opened.error();
    }
    const Fd dir = std::move(*opened);
    const std::string& path = request.dir;
    // With DryRun::yes and no directory yet, everything below would be done.
    struct stat info {};
    if (dir.valid() && ::fstat(dir.get(), &info) != 0) {
        return system_error(path, errno);
    }
    Result<unsigned> flags = dir.valid() ? get_flags(dir.get(), path) : Result<unsigned>(0U);
    if (!flags) {
        // No attributes at all (ramfs, some FUSE filesystems): nothing is changed.
        return input_error(path + " cannot be made immutable on this filesystem (" +
                           flags.error().message +
                           "), so its old command lines are not kept: " + instead(request));
    }
    const bool immutable = (*flags & FS_IMMUTABLE_FL) != 0;
    Result<Changes> todo = planned_changes(dir, info, immutable, request);
    if (!todo) {
        return todo.error();
    }
    changes.insert(changes.end(), todo->begin(), todo->end());
    if (todo->empty() || request.dry_run == DryRun::yes) {
        return Ok{};
    }
    if (immutable) {
        if (Status cleared = set_flags(dir.get(), *flags & ~FS_IMMUTABLE_FL, path); !cleared) {
            return cleared;
        }
    }
    if (::fchown(dir.get(), 0, 0) != 0 || ::fchmod(dir.get(), k_dir_mode) != 0) {
        return system_error("make " + path + " root's", errno);
    }
    return link_and_seal(dir, request, changes);
}

Status uninstall_legacy_dir(const LegacyDirRequest& request, Changes& changes) {
    Result<Fd> opened = open_legacy(request, changes, false);
    if (!opened) {
        return opened.error();
    }
    if (!opened->valid()) {
        return Ok{}; // nothing there: nothing to undo
    }
    const Fd dir = std::move(*opened);
    const std::string& path = request.dir;
    const bool dry = request.dry_run == DryRun::yes;
    Result<unsigned> flags = get_flags(dir.get(), path);
    if (flags && (*flags & FS_IMMUTABLE_FL) != 0) {
        changes.push_back("clear the immutable flag of " + path);
        if (!dry) {
            if (Status cleared = set_flags(dir.get(), *flags & ~FS_IMMUTABLE_FL, path); !cleared) {
                return cleared;
            }
        }
    }
    for (const std::string& name : legacy_script_names()) {
        if (!links_to(dir.get(), name, request.target)) {
            continue;
        }
        changes.push_back("remove the link " + path + "/" + name);
        const bool restore = exists_at(dir.get(), name + ".orig");
        if (restore) {
            changes.push_back("restore " + path + "/" + name + " from " + name + ".orig");
        }
        if (dry) {
            continue;
        }
        if (::unlinkat(dir.get(), name.c_str(), 0) != 0 ||
            (restore &&
             ::renameat(dir.get(), (name + ".orig").c_str(), dir.get(), name.c_str()) != 0)) {
            return system_error("restore " + path + "/" + name, errno);
        }
    }
    // Back to the owner of the directory it is in (the user, in the user's home), as it was.
    struct stat parent {};
    struct stat own {};
    if (::fstatat(dir.get(), "..", &parent, 0) == 0 && ::fstat(dir.get(), &own) == 0 &&
        (own.st_uid != parent.st_uid || own.st_gid != parent.st_gid)) {
        changes.push_back("give " + path + " back to uid " + std::to_string(parent.st_uid));
        if (!dry && ::fchown(dir.get(), parent.st_uid, parent.st_gid) != 0) {
            return system_error("chown " + path, errno);
        }
    }
    return Ok{};
}

} // namespace fleet
