#include "base/trusted_file.hpp"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include "sys/io.hpp"

namespace fleet {

namespace {

// The kernel's name for what `fd` is open on ("/etc/x.toml"): every symlink on the way already
// resolved. A file deleted since it was opened has " (deleted)" appended, which no check passes.
Result<std::string> name_of(int fd, const std::string& subject) {
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    char target[PATH_MAX];
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target);
    if (n < 0) {
        return system_error(subject + ": " + link, errno);
    }
    if (static_cast<size_t>(n) >= sizeof target || target[0] != '/') {
        return input_error(subject + ": cannot tell where it is (" + link + ")");
    }
    return std::string(target, static_cast<size_t>(n));
}

// `path` made absolute (against the cwd) with "//" and "." taken out; ".." kept, so a path
// with it never equals a kernel name.
std::string lexical_absolute(const std::string& path) {
    std::string whole = path;
    if (whole.empty() || whole[0] != '/') {
        char cwd[PATH_MAX];
        whole = (::getcwd(cwd, sizeof cwd) != nullptr ? std::string(cwd) : std::string("?")) + "/" +
                whole;
    }
    std::string out;
    size_t start = 0;
    while (start < whole.size()) {
        size_t end = whole.find('/', start);
        if (end == std::string::npos) {
            end = whole.size();
        }
        const std::string part = whole.substr(start, end - start);
        if (!part.empty() && part != ".") {
            out += "/" + part;
        }
        start = end + 1;
    }
    return out.empty() ? "/" : out;
}

bool ancestor_ok(const struct stat& info, Ancestors rule) {
    if (rule == Ancestors::unchecked) {
        return true;
    }
    if (info.st_uid != 0 || !S_ISDIR(info.st_mode)) {
        return false;
    }
    const bool group_writable = (info.st_mode & S_IWGRP) != 0;
    const bool other_writable = (info.st_mode & S_IWOTH) != 0;
    const bool sticky = (info.st_mode & S_ISVTX) != 0;
    switch (rule) {
    case Ancestors::not_writable:
        return !group_writable && !other_writable;
    case Ancestors::sticky_ok:
        return (!group_writable && !other_writable) || sticky;
    case Ancestors::group_writable_ok:
        return !other_writable;
    case Ancestors::unchecked:
        break;
    }
    return true;
}

// "g-w,o-rwx": the chmod that clears `bits` (group and other bits only).
std::string chmod_clearing(mode_t bits) {
    const auto part = [](char who, mode_t three) {
        std::string text;
        for (const auto& [bit, letter] : {std::pair{04, 'r'}, {02, 'w'}, {01, 'x'}}) {
            if ((three & static_cast<mode_t>(bit)) != 0) {
                text += letter;
            }
        }
        return text.empty() ? std::string() : std::string(1, who) + "-" + text;
    };
    const mode_t group_bits = (bits >> 3) & 07;
    const mode_t other_bits = bits & 07;
    if (group_bits == other_bits) {
        return "go" + part('g', group_bits).substr(1); // "go-w"
    }
    const std::string group = part('g', group_bits);
    const std::string other = part('o', other_bits);
    return group + (!group.empty() && !other.empty() ? "," : "") + other;
}

const char* ancestor_rule_text(Ancestors rule) {
    switch (rule) {
    case Ancestors::sticky_ok:
        return " must be owned by root and not writable by group or others (or sticky)";
    case Ancestors::group_writable_ok:
        return " must be owned by root and not writable by others";
    default:
        return " must be owned by root and not writable by group or others";
    }
}

// Walks the directories of `path` (a name from name_of: absolute, no symlinks, no "." or "..")
// from "/" down, each opened O_PATH|O_NOFOLLOW beneath the one before, and checks each.
// `skip_last` leaves out the last component (the file itself). Returns the fd of the deepest
// directory checked.
Result<Fd> walk_directories(const std::string& path, const std::string& subject, Ancestors rule,
                            bool skip_last) {
    std::vector<std::string> names;
    size_t start = 1;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos) {
            end = path.size();
        }
        if (end > start) {
            names.push_back(path.substr(start, end - start));
        }
        start = end + 1;
    }
    if (skip_last && !names.empty()) {
        names.pop_back();
    }
    Fd dir(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    std::string shown = "/";
    for (size_t i = 0;; ++i) {
        if (!dir.valid()) {
            return system_error(subject + ": directory " + shown, errno);
        }
        struct stat info {};
        if (::fstat(dir.get(), &info) != 0) {
            return system_error(subject + ": directory " + shown, errno);
        }
        if (!ancestor_ok(info, rule)) {
            return input_error(subject + ": directory " + shown + ancestor_rule_text(rule));
        }
        if (i == names.size()) {
            return dir;
        }
        if (names[i] == "." || names[i] == "..") {
            return input_error(subject + ": cannot tell where it is (" + path + ")");
        }
        shown = (shown == "/" ? "" : shown) + "/" + names[i];
        dir = Fd(
            ::openat(dir.get(), names[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    }
}

} // namespace

Result<Fd> open_trusted_file(const std::string& path, const std::string& subject,
                             const TrustRules& rules) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd.valid()) {
        if (errno == ENOENT && rules.missing == IfMissing::absent) {
            return Fd();
        }
        return input_error(subject + ": " + std::strerror(errno));
    }
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) {
        return system_error(subject, errno);
    }
    if (!S_ISREG(info.st_mode)) {
        return input_error(subject + " is not a regular file");
    }
    if (rules.owner == Owner::root && info.st_uid != 0) {
        return input_error(subject + " must be owned by root (chown root: it)");
    }
    if ((info.st_mode & rules.forbidden) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
        return input_error(subject + " has mode " + mode + ", too open (chmod " +
                           chmod_clearing(rules.forbidden) + " it)");
    }
    if (rules.ancestors == Ancestors::unchecked) {
        return fd;
    }
    Result<std::string> name = name_of(fd.get(), subject);
    if (!name) {
        return name.error();
    }
    // A symlink on the way (in a directory someone else could write, it could be re-pointed at
    // another root-only file): the path must be the file's own, link-free name.
    if (lexical_absolute(path) != *name) {
        return input_error(subject + " is reached through a symlink (it is " + *name +
                           "): name that path instead");
    }
    Result<Fd> dir = walk_directories(*name, subject, rules.ancestors, true);
    if (!dir) {
        return dir.error();
    }
    const std::string base = name->substr(name->rfind('/') + 1);
    struct stat there {};
    if (::fstatat(dir->get(), base.c_str(), &there, AT_SYMLINK_NOFOLLOW) != 0 ||
        there.st_dev != info.st_dev || there.st_ino != info.st_ino) {
        return input_error(subject + " moved while it was checked");
    }
    return fd;
}

Result<std::optional<std::string>>
read_trusted_file(const std::string& path, const std::string& subject, const TrustRules& rules) {
    Result<Fd> fd = open_trusted_file(path, subject, rules);
    if (!fd) {
        return fd.error();
    }
    if (!fd->valid()) {
        return std::optional<std::string>();
    }
    Result<std::string> text = read_fd(fd->get(), rules.max_bytes);
    if (!text) {
        return input_error(subject + ": " + text.error().message);
    }
    return std::optional<std::string>(std::move(*text));
}

Status check_trusted_directory(int dir_fd, const std::string& subject, Ancestors ancestors) {
    Result<std::string> name = name_of(dir_fd, subject);
    if (!name) {
        return name.error();
    }
    struct stat own {};
    if (::fstat(dir_fd, &own) != 0) {
        return system_error(subject, errno);
    }
    if (!ancestor_ok(own, Ancestors::not_writable)) {
        return input_error(subject + " must be a directory owned by root and not writable by "
                                     "group or others");
    }
    Result<Fd> parent = walk_directories(*name, subject, ancestors, true);
    if (!parent) {
        return parent.error();
    }
    const std::string base = name->substr(name->rfind('/') + 1);
    struct stat there {};
    if (!base.empty() &&
        (::fstatat(parent->get(), base.c_str(), &there, AT_SYMLINK_NOFOLLOW) != 0 ||
         there.st_dev != own.st_dev || there.st_ino != own.st_ino)) {
        return input_error(subject + " moved while it was checked");
    }
    return Ok{};
}

} // namespace fleet
