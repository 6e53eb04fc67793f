#include "guard/diag/files.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guard/diag/file_text.hpp"

namespace fleet {

namespace {

constexpr int k_max_deny_depth = 6;
constexpr size_t k_max_deny_entries = 50000;
constexpr int k_max_ancestors = 256;
constexpr uint64_t k_resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

FileId id_of(const struct stat& info) {
    return {info.st_dev, info.st_ino};
}

Error refused(const std::string& why) {
    return input_error(why);
}

int raw_openat2(int dir_fd, const char* path, uint64_t flags) {
    open_how how{};
    how.flags = flags | O_CLOEXEC;
    how.resolve = k_resolve;
    long fd = -1;
    do {
        fd = ::syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
    } while (fd < 0 && errno == EAGAIN);
    return static_cast<int>(fd);
}

// Opens `name` (one component) in `dir_fd` without following a symlink, by either resolver.
// A symlink comes back as an O_PATH fd to the link (refused later by its type) or as ELOOP.
Result<Fd> open_component(int dir_fd, const std::string& name, uint64_t flags,
                          const std::string& shown) {
    const bool use_openat2 = active_resolver() == Resolver::openat2;
    const int fd = use_openat2 ? raw_openat2(dir_fd, name.c_str(), flags | O_NOFOLLOW)
                               : ::openat(dir_fd, name.c_str(),
                                          static_cast<int>(flags) | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        return Fd(fd);
    }
    const int err = errno;
    struct stat link {};
    if (err == ELOOP || err == EXDEV ||
        (err == ENOTDIR && ::fstatat(dir_fd, name.c_str(), &link, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISLNK(link.st_mode))) {
        return refused(shown + ": a symbolic link on the way is refused");
    }
    return system_error(shown, err);
}

// Opens the directory `relative` ("" for `root_fd` itself) beneath `root_fd`, one component at
// a time, each O_PATH|O_DIRECTORY without following links.
Result<Fd> open_directory_beneath(int root_fd, const std::string& relative,
                                  const std::string& shown) {
    Fd current(::openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!current.valid()) {
        return system_error(shown, errno);
    }
    size_t start = 0;
    while (start < relative.size()) {
        const size_t end = std::min(relative.find('/', start), relative.size());
        Result<Fd> next = open_component(current.get(), relative.substr(start, end - start),
                                         O_PATH | O_DIRECTORY, shown);
        if (!next) {
            return next.error();
        }
        current = std::move(*next);
        start = end + 1;
    }
    return current;
}

const std::string* root_of(const std::string& path, const std::vector<std::string>& roots) {
    const std::string* best = nullptr;
    for (const std::string& root : roots) {
        const bool holds =
            path == root || root == "/" ||
            (path.size() > root.size() && path.starts_with(root) && path[root.size()] == '/');
        if (holds && (best == nullptr || root.size() > best->size())) {
            best = &root;
        }
    }
    return best;
}

Status check_ancestors(int start_fd, const DenySet& deny, const std::string& shown) {
    Fd current(::openat(start_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    for (int step = 0; current.valid() && step < k_max_ancestors; ++step) {
        struct stat info {};
        if (::fstat(current.get(), &info) != 0) {
            return system_error(shown, errno);
        }
        if (deny.denies_directory(id_of(info))) {
            return refused(shown + " lies in a denied directory");
        }
        Fd parent(::openat(current.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
        struct stat above {};
        if (!parent.valid() || ::fstat(parent.get(), &above) != 0) {
            return system_error(shown + ": walking up", errno);
        }
        if (id_of(above) == id_of(info)) {
            return Ok{};
        }
        current = std::move(parent);
    }
    return refused(shown + ": too deep to check");
}

} // namespace

Resolver active_resolver() {
    static const Resolver resolver = [] {
        const int fd = raw_openat2(AT_FDCWD, ".", O_PATH);
        if (fd < 0 && (errno == ENOSYS || errno == EPERM)) {
            return Resolver::walk; // kernel < 5.6, or a seccomp filter (crun#111)
        }
        if (fd >= 0) {
            ::close(fd);
        }
        return Resolver::openat2;
    }();
    return resolver;
}

void DenySet::add_tree(int dir_fd, int depth, size_t& budget) {
    const int copy = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
    DIR* dir = copy < 0 ? nullptr : ::fdopendir(copy);
    if (dir == nullptr) {
        if (copy >= 0) {
            ::close(copy);
        }
        return; // unreadable to this user: neither can it read what lies inside
    }
    while (const dirent* entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        if (name == "." || name == ".." || budget == 0) {
            continue;
        }
        --budget;
        struct stat info {};
        if (::fstatat(dir_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }
        if (S_ISDIR(info.st_mode)) {
            m_dirs.insert(id_of(info));
            if (depth < k_max_deny_depth) {
                const Fd child(::openat(dir_fd, name.c_str(),
                                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (child.valid()) {
                    add_tree(child.get(), depth + 1, budget);
                }
            }
        } else {
            m_files.insert(id_of(info));
        }
    }
    ::closedir(dir);
}

DenySet DenySet::build(const std::vector<std::string>& patterns) {
    DenySet deny;
    size_t budget = k_max_deny_entries;
    for (const std::string& pattern : patterns) {
        glob_t matches{};
        if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &matches) == 0) {
            for (size_t i = 0; i < matches.gl_pathc; ++i) {
                const char* path = matches.gl_pathv[i];
                struct stat info {};
                if (::stat(path, &info) != 0) {
                    continue;
                }
                if (!S_ISDIR(info.st_mode)) {
                    deny.m_files.insert(id_of(info));
                    continue;
                }
                deny.m_dirs.insert(id_of(info));
                const Fd dir(::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
                if (dir.valid()) {
                    deny.add_tree(dir.get(), 1, budget);
                }
            }
        }
        ::globfree(&matches);
    }
    return deny;
}

namespace {

// A path pinned as O_PATH fds (steps 1-3 of files.hpp): nothing was opened for reading yet.
struct Pinned {
    Fd parent; // its directory
    Fd object; // the file or directory itself
    struct stat info {};
};

// Steps 1 and 2: the root that holds `path`, then each component beneath it, no symlink.
Result<Pinned> pin(const std::string& path, const std::vector<std::string>& roots,
                   const std::string& shown) {
    const std::string* root = root_of(path, roots);
    if (root == nullptr) {
        return refused(shown + " is not under an allowed root");
    }
    // The root itself: its own components follow no policy but the operator's, except that
    // its last one may not be a symlink.
    Fd root_fd(::open(root->c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat root_info {};
    if (!root_fd.valid() || ::fstat(root_fd.get(), &root_info) != 0) {
        return system_error(*root, errno);
    }
    std::string relative;
    if (S_ISREG(root_info.st_mode)) { // a single-file root: open it from its directory
        const size_t slash = root->rfind('/');
        root_fd = Fd(::open(slash == 0 ? "/" : root->substr(0, slash).c_str(),
                            O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root_fd.valid()) {
            return system_error(*root, errno);
        }
        relative = root->substr(slash + 1);
    } else if (!S_ISDIR(root_info.st_mode)) {
        return refused("root " + *root + " is neither a directory nor a regular file");
    } else if (path != *root) {
        relative = path.substr(*root == "/" ? 1 : root->size() + 1);
    }
    const size_t slash = relative.rfind('/');
    const std::string parent_relative = slash == std::string::npos ? "" : relative.substr(0, slash);
    const std::string last = slash == std::string::npos ? relative : relative.substr(slash + 1);
    Result<Fd> parent = open_directory_beneath(root_fd.get(), parent_relative, shown);
    if (!parent) {
        return parent.error();
    }
    Result<Fd> object =
        last.empty()
            ? Result<Fd>(Fd(::openat(parent->get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC)))
            : open_component(parent->get(), last, O_PATH, shown);
    if (!object) {
        return object.error();
    }
    Pinned pinned{std::move(*parent), std::move(*object)};
    if (!pinned.object.valid() || ::fstat(pinned.object.get(), &pinned.info) != 0) {
        return system_error(shown, errno);
    }
    return pinned;
}

// Steps 3 and 4: the kind of file the command takes, not denied under any name, no hard link,
// no denied directory above it.
Status vet(const Pinned& pinned, DiagCommand command, const DenySet& deny,
           const std::string& shown) {
    const struct stat& info = pinned.info;
    const bool directory = S_ISDIR(info.st_mode);
    const bool directory_ok = command == DiagCommand::ls || command == DiagCommand::stat;
    if (S_ISLNK(info.st_mode)) {
        return refused(shown + " is a symbolic link");
    }
    if (!S_ISREG(info.st_mode) && !(directory && directory_ok)) {
        return refused(shown + " is a " + type_name(info.st_mode) +
                       (directory ? " (ls and stat take directories)" : "; only regular files"));
    }
    if (deny.denies(id_of(info))) {
        return refused(shown + " is denied");
    }
    if (S_ISREG(info.st_mode) && info.st_nlink > 1) {
        return refused(shown + " has " + std::to_string(info.st_nlink) +
                       " hard links; such files are refused");
    }
    return check_ancestors(directory ? pinned.object.get() : pinned.parent.get(), deny, shown);
}

// Step 5's answer, from the fd reopened for reading.
Result<std::string> answer_from(int readable, const DiagRequest& request, const Pinned& pinned,
                                size_t max_output, bool& truncated) {
    const unsigned lines = request.lines.value_or(k_default_lines);
    switch (request.command) {
    case DiagCommand::ls:
        if (S_ISDIR(pinned.info.st_mode)) {
            return list_directory(readable, request, max_output, truncated);
        }
        return request.long_format ? long_entry(request.path, pinned.info) : request.path + "\n";
    case DiagCommand::tail:
        return tail_of(readable, pinned.info, lines, max_output, truncated);
    case DiagCommand::head: {
        Result<std::string> text = read_capped(readable, max_output, truncated);
        if (!text) {
            return text;
        }
        std::string first = first_lines(*text, lines);
        truncated = truncated && first.size() == text->size();
        return first;
    }
    default:
        return read_capped(readable, max_output, truncated);
    }
}

} // namespace

Result<FileAnswer> run_file_command(const DiagRequest& request,
                                    const std::vector<std::string>& roots, const DenySet& deny,
                                    size_t max_output) {
    const std::string shown = "'" + request.path + "'";
    Result<Pinned> pinned = pin(request.path, roots, shown);
    if (!pinned) {
        return pinned.error();
    }
    if (Status clear = vet(*pinned, request.command, deny, shown); !clear) {
        return clear.error();
    }
    FileAnswer answer;
    answer.id = id_of(pinned->info);
    if (request.command == DiagCommand::stat) {
        answer.output = stat_text(request.path, pinned->info);
        return answer;
    }
    // Step 5: reopened for reading through /proc/self/fd, the identity compared again.
    const std::string proc = "/proc/self/fd/" + std::to_string(pinned->object.get());
    const Fd readable(::open(proc.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
                                               (S_ISDIR(pinned->info.st_mode) ? O_DIRECTORY : 0)));
    struct stat again {};
    if (!readable.valid() || ::fstat(readable.get(), &again) != 0) {
        return system_error(shown, errno);
    }
    if (id_of(again) != answer.id) {
        return refused(shown + " changed while it was opened");
    }
    Result<std::string> text =
        answer_from(readable.get(), request, *pinned, max_output, answer.truncated);
    if (!text) {
        return Error{ErrorKind::system, shown + ": " + text.error().message};
    }
    answer.output = std::move(*text);
    return answer;
}

} // namespace fleet
