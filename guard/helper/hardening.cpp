#include "guard/helper/hardening.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <sys/resource.h>
#include <unistd.h>

#include "guard/common/tools.hpp"

namespace fleet {

namespace {

// Not held: the signals a fault raises synchronously (blocking them would hang or kill the
// process anyway). Every other catchable signal is held (blocked) for the helper's whole life:
// sudo relays TERM, INT, HUP, QUIT, USR1, USR2, ALRM... from the caller, and a caller may
// signal its own sudo; none may end the helper between an action and its audit record. The
// actions get every signal unblocked (probe.hpp).
constexpr int k_fault_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};

// The limits an action gets, whatever the caller's were (sudo hands them down): a caller's small
// RLIMIT_CPU, RLIMIT_AS or RLIMIT_NOFILE could end dpkg halfway through an unpack the simulation
// passed, or the helper before its end record (SIGXCPU, SIGXFSZ). Root's defaults; where root
// lacks CAP_SYS_RESOURCE (a container) a hard limit stays and the soft one is raised to it,
// except for CPU time and file size, whose signals would end the helper: those must be unlimited.
struct Limit {
    int resource;
    rlim_t soft;
    rlim_t hard;
};
constexpr Limit k_limits[] = {
    {RLIMIT_CPU, RLIM_INFINITY, RLIM_INFINITY},
    {RLIMIT_FSIZE, RLIM_INFINITY, RLIM_INFINITY},
    {RLIMIT_DATA, RLIM_INFINITY, RLIM_INFINITY},
    {RLIMIT_AS, RLIM_INFINITY, RLIM_INFINITY},
    {RLIMIT_STACK, rlim_t{8} << 20, RLIM_INFINITY},
    {RLIMIT_NOFILE, 1024, 1 << 20},
    {RLIMIT_NPROC, RLIM_INFINITY, RLIM_INFINITY},
    {RLIMIT_MEMLOCK, rlim_t{8} << 20, rlim_t{8} << 20},
};

} // namespace

std::vector<std::string> held_signals_pending() {
    sigset_t pending;
    std::vector<std::string> names;
    if (::sigpending(&pending) != 0) {
        return names;
    }
    for (int sig = 1; sig < SIGRTMIN; ++sig) {
        // SIGCHLD (the actions' own ends), SIGPIPE (ignored), SIGWINCH, SIGURG: no one's request.
        const bool routine = sig == SIGCHLD || sig == SIGPIPE || sig == SIGWINCH || sig == SIGURG;
        if (!routine && sigismember(&pending, sig) == 1) {
            const char* name = sigabbrev_np(sig);
            names.push_back(name != nullptr ? std::string("SIG") + name : std::to_string(sig));
        }
    }
    return names;
}

std::string harden_helper_process() {
    if (!harden_guard_process()) {
        return std::string("cannot set up the process: ") + std::strerror(errno);
    }
    if (::geteuid() != 0) {
        return ""; // only root may raise them; without root nothing runs as root anyway
    }
    for (const Limit& limit : k_limits) {
        const rlimit wanted{limit.soft, limit.hard};
        if (::setrlimit(limit.resource, &wanted) == 0) {
            continue;
        }
        rlimit current{};
        if (errno != EPERM || ::getrlimit(limit.resource, &current) != 0) {
            return std::string("cannot set a resource limit: ") + std::strerror(errno);
        }
        const bool must_be_unlimited =
            limit.resource == RLIMIT_CPU || limit.resource == RLIMIT_FSIZE;
        if (must_be_unlimited && current.rlim_max != RLIM_INFINITY) {
            return std::string("the caller's ") +
                   (limit.resource == RLIMIT_CPU ? "CPU time" : "file size") +
                   " limit cannot be lifted, and it could end an action halfway: refused";
        }
        const rlimit raised{std::min(limit.soft, current.rlim_max), current.rlim_max};
        if (::setrlimit(limit.resource, &raised) != 0) {
            return std::string("cannot set a resource limit: ") + std::strerror(errno);
        }
    }
    return "";
}

bool hold_signals() {
    sigset_t held;
    sigfillset(&held);
    for (const int sig : k_fault_signals) {
        sigdelset(&held, sig);
    }
    return ::sigprocmask(SIG_BLOCK, &held, nullptr) == 0;
}

} // namespace fleet
