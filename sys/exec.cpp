#include "sys/exec.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <string_view>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace fleet {

namespace {

Status mark_fds_cloexec_by_walking(int first_fd) {
    DIR* dir = opendir("/proc/self/fd");
    if (dir == nullptr) {
        return system_error("opendir /proc/self/fd", errno);
    }
    const int own_fd = dirfd(dir);
    Status result = Ok{};
    errno = 0;
    while (const dirent* entry = readdir(dir)) {
        char* end = nullptr;
        const long fd = std::strtol(entry->d_name, &end, 10);
        if (*end != '\0' || end == entry->d_name || fd < first_fd || fd == own_fd) {
            continue;
        }
        const int flags = fcntl(static_cast<int>(fd), F_GETFD);
        if (flags < 0 || fcntl(static_cast<int>(fd), F_SETFD, flags | FD_CLOEXEC) < 0) {
            result = system_error("fcntl(" + std::to_string(fd) + ", F_SETFD)", errno);
            break;
        }
    }
    if (result && errno != 0) {
        result = system_error("readdir /proc/self/fd", errno);
    }
    closedir(dir);
    return result;
}

// Collects the raw pointers execve wants; the strings must outlive the call.
std::vector<char*> to_exec_array(const std::vector<std::string>& strings) {
    std::vector<char*> array;
    array.reserve(strings.size() + 1);
    for (const std::string& s : strings) {
        array.push_back(const_cast<char*>(s.c_str()));
    }
    array.push_back(nullptr);
    return array;
}

std::string path_from(const std::vector<std::string>& envp) {
    for (const std::string& entry : envp) {
        if (std::string_view(entry).starts_with("PATH=")) {
            return entry.substr(5);
        }
    }
    return "/usr/local/bin:/usr/bin:/bin";
}

ExecFailure failure_for(const std::string& command, int err) {
    const std::string text = command + ": " + std::strerror(err);
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        return {127, text, err};
    case EACCES:
    case EPERM:
    case ENOEXEC:
    case EISDIR:
    case ELIBBAD:
    case ETXTBSY:
        return {126, text, err};
    default: // E2BIG, ENOMEM, EAGAIN (RLIMIT_NPROC since Linux 3.1), ELOOP…: the launch failed
        return {111, "exec " + text, err};
    }
}

} // namespace

Status reset_signals() {
    sigset_t empty;
    sigemptyset(&empty);
    if (sigprocmask(SIG_SETMASK, &empty, nullptr) != 0) {
        return system_error("sigprocmask", errno);
    }
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP) {
            continue;
        }
        if (sigaction(sig, &default_action, nullptr) == 0) {
            continue;
        }
        if (errno != EINVAL) {
            return system_error("sigaction(" + std::to_string(sig) + ")", errno);
        }
        // glibc refuses the signals it reserves for itself (32 and 33), yet an ignored
        // disposition for them survives execve like any other: reset those with the raw
        // syscall. An all-zero kernel sigaction is SIG_DFL with no flags on every layout.
        const unsigned long zero_action[8] = {};
        if (syscall(SYS_rt_sigaction, sig, zero_action, nullptr, _NSIG / 8) != 0 &&
            errno != EINVAL) {
            return system_error("rt_sigaction(" + std::to_string(sig) + ")", errno);
        }
    }
    return Ok{};
}

Status close_fds_from(int first_fd) {
    if (close_range(static_cast<unsigned>(first_fd), ~0U, 0) == 0) {
        return Ok{};
    }
    if (errno != ENOSYS && errno != EINVAL) {
        return system_error("close_range", errno);
    }
    // Marked first, then closed: closing while readdir walks /proc/self/fd would skip entries.
    if (Status marked = mark_fds_cloexec_by_walking(first_fd); !marked) {
        return marked;
    }
    std::vector<int> open_fds;
    if (DIR* dir = opendir("/proc/self/fd")) {
        const int own_fd = dirfd(dir);
        while (const dirent* entry = readdir(dir)) {
            char* end = nullptr;
            const long fd = std::strtol(entry->d_name, &end, 10);
            if (*end == '\0' && end != entry->d_name && fd >= first_fd && fd != own_fd) {
                open_fds.push_back(static_cast<int>(fd));
            }
        }
        closedir(dir);
    }
    for (const int fd : open_fds) {
        close(fd);
    }
    return Ok{};
}

Status mark_fds_cloexec(int first_fd) {
    if (close_range(static_cast<unsigned>(first_fd), ~0U, CLOSE_RANGE_CLOEXEC) == 0) {
        return Ok{};
    }
    if (errno != ENOSYS && errno != EINVAL) {
        return system_error("close_range", errno);
    }
    return mark_fds_cloexec_by_walking(first_fd);
}

bool stdio_is_terminal() {
    return isatty(0) == 1 || isatty(1) == 1 || isatty(2) == 1;
}

bool has_controlling_terminal() {
    const int fd = ::open("/dev/tty", O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
        ::close(fd);
        return true;
    }
    return errno != ENXIO;
}

Status start_new_session() {
    if (setsid() < 0) {
        return system_error("setsid", errno);
    }
    return Ok{};
}

std::vector<std::string> path_entries(const std::string& path) {
    std::vector<std::string> entries;
    size_t start = 0;
    for (;;) {
        const size_t colon = path.find(':', start);
        const size_t end = colon == std::string::npos ? path.size() : colon;
        entries.push_back(end == start ? "." : path.substr(start, end - start));
        if (colon == std::string::npos) {
            return entries;
        }
        start = colon + 1;
    }
}

std::string find_in_path(const std::string& name, const std::string& path) {
    for (const std::string& dir : path_entries(path)) {
        std::string candidate = dir + "/" + name;
        struct stat info {};
        if (stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
            access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    return "";
}

ExecFailure exec_command(const std::vector<std::string>& argv,
                         const std::vector<std::string>& envp) {
    if (argv.empty() || argv[0].empty()) {
        return {127, "empty command", ENOENT};
    }
    const std::vector<char*> args = to_exec_array(argv);
    const std::vector<char*> env = to_exec_array(envp);
    const std::string& command = argv[0];
    if (command.find('/') != std::string::npos) {
        execve(command.c_str(), args.data(), env.data());
        return failure_for(command, errno);
    }

    // Like execvp: try each PATH entry; remember EACCES so "exists but not executable" is not
    // reported as "not found"; stop at the first error that is not about this directory.
    bool saw_eacces = false;
    for (const std::string& dir : path_entries(path_from(envp))) {
        const std::string candidate = dir + "/" + command;
        execve(candidate.c_str(), args.data(), env.data());
        const int err = errno;
        if (err == EACCES) {
            saw_eacces = true;
        } else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV &&
                   err != ETIMEDOUT) {
            return failure_for(command, err);
        }
    }
    if (saw_eacces) {
        return failure_for(command, EACCES);
    }
    return {127, command + ": command not found in PATH", ENOENT};
}

} // namespace fleet
