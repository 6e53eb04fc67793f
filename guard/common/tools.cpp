#include "guard/common/tools.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "base/trusted_file.hpp"
#include "sys/fd.hpp"

namespace fleet {

std::vector<std::string> tool_environment() {
    return {"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG=C.UTF-8",
            "LC_ALL=C.UTF-8",
            "TERM=dumb",
            "SYSTEMD_PAGER=cat",
            "PAGER=cat",
            "SYSTEMD_PAGERSECURE=1",
            "LESSSECURE=1",
            "SYSTEMD_COLORS=0"};
}

bool harden_guard_process() {
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
            ::open("/dev/null", O_RDWR | O_NOCTTY) != fd) {
            return false;
        }
    }
    ::umask(077);
    ::signal(SIGPIPE, SIG_IGN);
    const rlimit no_core{0, 0};
    return ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 && ::setrlimit(RLIMIT_CORE, &no_core) == 0;
}

Status check_trusted_executable(const std::string& path) {
    Result<Fd> fd = open_trusted_file(path, "executable " + path, TrustRules{});
    if (!fd) {
        return fd.error();
    }
    return Ok{};
}

} // namespace fleet
