// Each test hardens a forked child (the changes are for the process's life) and reports back
// through its exit code and a pipe.
#include <algorithm>
#include <csignal>
#include <fcntl.h>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "guard/helper/hardening.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {
namespace {

// Runs `body` in a child; what it wrote to the pipe.
template <typename Body>
std::string in_child(Body body) {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        const std::string text = body();
        (void)!write(fds[1], text.data(), text.size());
        _exit(0);
    }
    close(fds[1]);
    const Fd read_end(fds[0]);
    Result<std::string> text = read_fd(read_end.get(), 1 << 16);
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return text ? *text : "";
}

TEST(HelperHardening, HoldsEverySignalButTheFaultOnes) {
    const std::string seen = in_child([] {
        if (!hold_signals()) {
            return std::string("hold failed");
        }
        sigset_t mask;
        sigprocmask(SIG_BLOCK, nullptr, &mask);
        std::string text;
        for (const int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGALRM}) {
            text += sigismember(&mask, sig) == 1 ? "held " : "open ";
        }
        for (const int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
            text += sigismember(&mask, sig) == 1 ? "held " : "open ";
        }
        raise(SIGTERM); // held: the child lives on
        raise(SIGCHLD);
        for (const std::string& name : held_signals_pending()) {
            text += name + " ";
        }
        return text;
    });
    EXPECT_EQ(seen, "held held held held held held open open open open open SIGTERM ");
}

// The caller's small limits do not reach the helper's actions.
TEST(HelperHardening, RaisesTheCallersLimits) {
    if (geteuid() != 0) {
        GTEST_SKIP() << "only root may raise them";
    }
    const std::string seen = in_child([] {
        rlimit files{};
        getrlimit(RLIMIT_NOFILE, &files);
        const rlimit small{64, files.rlim_max};
        setrlimit(RLIMIT_NOFILE, &small);
        const std::string problem = harden_helper_process();
        rlimit after{};
        getrlimit(RLIMIT_NOFILE, &after);
        const rlim_t wanted = std::min<rlim_t>(1024, files.rlim_max);
        return problem.empty() && after.rlim_cur >= wanted ? std::string("ok") : problem;
    });
    EXPECT_EQ(seen, "ok");
}

// A CPU time limit the caller set and root cannot lift (no CAP_SYS_RESOURCE) would end an action
// halfway with SIGXCPU: the helper refuses. With the capability, it is lifted.
TEST(HelperHardening, ACpuLimitIsLiftedOrRefused) {
    if (geteuid() != 0) {
        GTEST_SKIP() << "only root may raise them";
    }
    const std::string seen = in_child([] {
        const rlimit capped{3600, 3600};
        setrlimit(RLIMIT_CPU, &capped);
        std::string problem = harden_helper_process();
        rlimit after{};
        getrlimit(RLIMIT_CPU, &after);
        if (problem.empty()) {
            return after.rlim_cur == RLIM_INFINITY ? std::string("lifted") : std::string("kept");
        }
        return problem;
    });
    EXPECT_TRUE(seen == "lifted" ||
                seen == "the caller's CPU time limit cannot be lifted, and it could end an "
                        "action halfway: refused")
        << seen;
}

} // namespace
} // namespace fleet
