#include "guard/diag/files.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace fleet {

namespace {

constexpr int k_max_deny_depth = 6;
constexpr size_t k_max_deny_entries = 50000;
constexpr int k_max_ancestors = 256;
constexpr unsigned k_default_lines = 10;
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

std::string mode_string(mode_t mode) {
    std::string text = S_ISDIR(mode) ? "d" : S_ISLNK(mode) ? "l" : S_ISREG(mode) ? "-" : "?";
    const char* letters = "rwxrwxrwx";
    for (int bit = 0; bit < 9; ++bit) {
        text += (mode & (0400 >> bit)) != 0 ? letters[bit] : '-';
    }
    return text;
}

std::string owner_name(uid_t uid) {
    const passwd* entry = ::getpwuid(uid);
    return entry != nullptr ? entry->pw_name : std::to_string(uid);
}

std::string group_name(gid_t gid) {
    const group* entry = ::getgrgid(gid);
    return entry != nullptr ? entry->gr_name : std::to_string(gid);
}

std::string utc_time(time_t when) {
    std::tm parts{};
    ::gmtime_r(&when, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &parts);
    return text;
}

std::string type_name(mode_t mode) {
    return S_ISREG(mode)    ? "regular file"
           : S_ISDIR(mode)  ? "directory"
           : S_ISLNK(mode)  ? "symbolic link"
           : S_ISFIFO(mode) ? "fifo"
           : S_ISSOCK(mode) ? "socket"
                            : "device";
}

// Reads up to `cap` bytes from the current offset; `truncated` when more was there.
Result<std::string> read_capped(int fd, size_t cap, bool& truncated) {
    std::string text;
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return system_error("read", errno);
        }
        if (n == 0) {
            return text;
        }
        const size_t room = cap - std::min(cap, text.size());
        text.append(buffer, std::min(room, static_cast<size_t>(n)));
        if (static_cast<size_t>(n) > room) {
            truncated = true;
            return text;
        }
    }
}

std::string first_lines(const std::string& text, unsigned lines) {
    size_t end = 0;
    for (unsigned i = 0; i < lines && end < text.size(); ++i) {
        const size_t newline = text.find('\n', end);
        end = newline == std::string::npos ? text.size() : newline + 1;
    }
    return text.substr(0, end);
}

std::string last_lines(const std::string& text, unsigned lines) {
    size_t start = text.size();
    if (start > 0 && text[start - 1] == '\n') {
        --start;
    }
    for (unsigned i = 0; i < lines; ++i) {
        const size_t newline = start == 0 ? std::string::npos : text.rfind('\n', start - 1);
        if (newline == std::string::npos) {
            return text;
        }
        start = newline;
    }
    return text.substr(start + 1);
}

Result<std::string> tail_of(int fd, const struct stat& info, unsigned lines, size_t cap,
                            bool& truncated) {
    if (info.st_size <= 0) { // procfs and friends: read through
        Result<std::string> text = read_capped(fd, size_t{64} << 20, truncated);
        if (!text) {
            return text;
        }
        std::string last = last_lines(*text, lines);
        truncated = last.size() > cap;
        return last.size() > cap ? last.substr(last.size() - cap) : last;
    }
    const auto size = static_cast<size_t>(info.st_size);
    const size_t window = std::min(size, cap);
    std::string text(window, '\0');
    size_t done = 0;
    while (done < window) {
        const ssize_t n = ::pread(fd, text.data() + done, window - done,
                                  static_cast<off_t>(size - window + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return system_error("read", errno);
        }
        if (n == 0) {
            break;
        }
        done += static_cast<size_t>(n);
    }
    text.resize(done);
    std::string last = last_lines(text, lines);
    truncated = last.size() == text.size() && window < size;
    return last;
}

std::string stat_text(const std::string& path, const struct stat& info) {
    return "  File: " + path + "\n  Type: " + type_name(info.st_mode) +
           "\n  Size: " + std::to_string(info.st_size) + "\n  Mode: " + mode_string(info.st_mode) +
           "\n Links: " + std::to_string(info.st_nlink) + "\n Owner: " + owner_name(info.st_uid) +
           " (" + std::to_string(info.st_uid) + ")\n Group: " + group_name(info.st_gid) + " (" +
           std::to_string(info.st_gid) + ")\n Inode: " + std::to_string(info.st_ino) +
           " on device " + std::to_string(info.st_dev) + "\nModify: " + utc_time(info.st_mtime) +
           " UTC\n";
}

std::string long_entry(const std::string& name, const struct stat& info) {
    return mode_string(info.st_mode) + " " + std::to_string(info.st_nlink) + " " +
           owner_name(info.st_uid) + " " + group_name(info.st_gid) + " " +
           std::to_string(info.st_size) + " " + utc_time(info.st_mtime) + " " + name + "\n";
}

Result<std::string> list_directory(int fd, const DiagRequest& request, size_t cap,
                                   bool& truncated) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    DIR* dir = copy < 0 ? nullptr : ::fdopendir(copy);
    if (dir == nullptr) {
        if (copy >= 0) {
            ::close(copy);
        }
        return system_error("opendir", errno);
    }
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        if (request.all || name[0] != '.') {
            names.push_back(name);
        }
        if (names.size() > 100000) {
            break;
        }
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    std::string text;
    for (const std::string& name : names) {
        struct stat info {};
        std::string line = name + "\n";
        if (request.long_format) {
            line = ::fstatat(fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0
                       ? long_entry(name, info)
                       : "?????????? " + name + "\n";
        }
        if (text.size() + line.size() > cap) {
            truncated = true;
            break;
        }
        text += line;
    }
    return text;
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

Result<FileAnswer> run_file_command(const DiagRequest& request,
                                    const std::vector<std::string>& roots, const DenySet& deny,
                                    size_t max_output) {
    const std::string& path = request.path;
    const std::string shown = "'" + path + "'";
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
    struct stat info {};
    if (!object->valid() || ::fstat(object->get(), &info) != 0) {
        return system_error(shown, errno);
    }
    const bool directory = S_ISDIR(info.st_mode);
    const bool directory_ok =
        request.command == DiagCommand::ls || request.command == DiagCommand::stat;
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
    if (Status clear = check_ancestors(directory ? object->get() : parent->get(), deny, shown);
        !clear) {
        return clear.error();
    }
    FileAnswer answer;
    answer.id = id_of(info);
    if (request.command == DiagCommand::stat) {
        answer.output = stat_text(path, info);
        return answer;
    }
    const std::string proc = "/proc/self/fd/" + std::to_string(object->get());
    const Fd readable(::open(proc.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
                                               (directory ? O_DIRECTORY : 0)));
    struct stat again {};
    if (!readable.valid() || ::fstat(readable.get(), &again) != 0) {
        return system_error(shown, errno);
    }
    if (id_of(again) != answer.id) {
        return refused(shown + " changed while it was opened");
    }
    Result<std::string> text = std::string();
    const unsigned lines = request.lines.value_or(k_default_lines);
    switch (request.command) {
    case DiagCommand::ls:
        text = directory ? list_directory(readable.get(), request, max_output, answer.truncated)
                         : Result<std::string>(request.long_format ? long_entry(path, info)
                                                                   : path + "\n");
        break;
    case DiagCommand::tail:
        text = tail_of(readable.get(), info, lines, max_output, answer.truncated);
        break;
    case DiagCommand::head:
        text = read_capped(readable.get(), max_output, answer.truncated);
        if (text) {
            std::string first = first_lines(*text, lines);
            answer.truncated = answer.truncated && first.size() == text->size();
            text = std::move(first);
        }
        break;
    default:
        text = read_capped(readable.get(), max_output, answer.truncated);
    }
    if (!text) {
        return Error{ErrorKind::system, shown + ": " + text.error().message};
    }
    answer.output = std::move(*text);
    return answer;
}

} // namespace fleet
