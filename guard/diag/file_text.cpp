#include "guard/diag/file_text.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>
#include <vector>

namespace fleet {

namespace {

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

} // namespace

std::string mode_string(mode_t mode) {
    std::string text = S_ISDIR(mode) ? "d" : S_ISLNK(mode) ? "l" : S_ISREG(mode) ? "-" : "?";
    const char* letters = "rwxrwxrwx";
    for (int bit = 0; bit < 9; ++bit) {
        text += (mode & (0400 >> bit)) != 0 ? letters[bit] : '-';
    }
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
    ::rewinddir(dir); // the copy shares the offset with `fd`: from the start, whoever read it
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

} // namespace fleet
