// fl-probe: prints what a launched process really got, one "key=value" line each, for
// integration tests to assert on. Plain libc so it can run as any user.
//
//   fl-probe            report ids, groups, /proc/self/status fields, fds, stdout's pipe size,
//                       cwd, session, env
//   fl-probe tiocsti    try to push one character into each terminal on fd 0-2 (TIOCSTI)
//   fl-probe inject     open /dev/tty (the controlling terminal) and push "echo injected\n"
//                       into it with TIOCSTI; report what fd 0 is (tty=) and how far it got
//   fl-probe exit N     exit with status N
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <sys/ioctl.h>
#include <unistd.h>

extern char** environ;

namespace {

void report() {
    std::printf("pid=%d\nppid=%d\npgid=%d\nsid=%d\n", getpid(), getppid(), getpgrp(), getsid(0));
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
        for (const char* key : {"Uid:", "Gid:", "Groups:", "CapPrm:", "CapEff:", "CapAmb:",
                                "CapBnd:", "NoNewPrivs:", "SigBlk:", "SigIgn:"}) {
            if (line.rfind(key, 0) == 0) {
                std::string value = line.substr(std::strlen(key));
                for (char& c : value) {
                    c = c == '\t' ? ' ' : c;
                }
                while (!value.empty() && value.front() == ' ')
                    value.erase(0, 1);
                while (!value.empty() && value.back() == ' ')
                    value.pop_back();
                std::printf("%.*s=%s\n", static_cast<int>(std::strlen(key) - 1), key,
                            value.c_str());
            }
        }
    }
    status.close(); // before listing fds, so only inherited ones show
    char cwd[4096];
    std::printf("cwd=%s\n", getcwd(cwd, sizeof cwd) != nullptr ? cwd : "?");
    DIR* dir = opendir("/proc/self/fd");
    std::string fds;
    while (const dirent* entry = dir != nullptr ? readdir(dir) : nullptr) {
        if (entry->d_name[0] != '.' && std::strtol(entry->d_name, nullptr, 10) != dirfd(dir)) {
            fds += (fds.empty() ? "" : ",") + std::string(entry->d_name);
        }
    }
    if (dir != nullptr) {
        closedir(dir);
    }
    std::printf("fds=%s\n", fds.c_str());
    std::printf("stdout_pipe_size=%d\n", fcntl(1, F_GETPIPE_SZ)); // -1: not a pipe
    for (char** e = environ; *e != nullptr; ++e) {
        std::printf("env:%s\n", *e);
    }
}

void tiocsti() {
    for (int fd = 0; fd <= 2; ++fd) {
        if (isatty(fd) != 1) {
            continue;
        }
        const char c = '#';
        const int rc = ioctl(fd, TIOCSTI, &c);
        std::printf("tiocsti=%s\n", rc == 0 ? "ok" : strerrorname_np(errno));
        return;
    }
    std::printf("tiocsti=no-tty\n");
}

void inject() {
    const char* name = ttyname(0);
    std::printf("tty=%s\n", name != nullptr ? name : "none");
    const int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        std::printf("devtty=%s\n", strerrorname_np(errno));
        return;
    }
    for (const char c : std::string("echo injected\n")) {
        if (ioctl(fd, TIOCSTI, &c) != 0) {
            std::printf("devtty=open\ntiocsti=%s\n", strerrorname_np(errno));
            return;
        }
    }
    std::printf("devtty=open\ntiocsti=ok\n");
}

} // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && std::strcmp(argv[1], "tiocsti") == 0) {
        tiocsti();
    } else if (argc >= 2 && std::strcmp(argv[1], "inject") == 0) {
        inject();
    } else if (argc >= 3 && std::strcmp(argv[1], "exit") == 0) {
        return static_cast<int>(std::strtol(argv[2], nullptr, 10));
    } else {
        report();
    }
    return 0;
}
