#include <csignal>
#include <string>

#include <gtest/gtest.h>

#include "base/probe.hpp"
#include "support/child.hpp"

namespace {

const std::vector<std::string> k_env = {"PATH=/usr/bin:/bin"};

TEST(RunBounded, ReportsTheExitStatusAndTheOutput) {
    fleet::ProbeLimits limits;
    fleet::Result<fleet::ProbeResult> ok = fleet::run_bounded({"/bin/echo", "hi"}, k_env, limits);
    ASSERT_TRUE(ok);
    EXPECT_TRUE(ok->succeeded());
    EXPECT_EQ(ok->output, "hi\n");
    fleet::Result<fleet::ProbeResult> failed =
        fleet::run_bounded({"/bin/sh", "-c", "exit 3"}, k_env, limits);
    ASSERT_TRUE(failed);
    EXPECT_FALSE(failed->succeeded());
    EXPECT_EQ(failed->exit_code(), 3);
}

// With SIGCHLD ignored the kernel reaps the child itself, so waitpid has no status to give:
// that must never read as "exit 0" (fleet-helper would answer ok for an action that never
// reported success).
TEST(RunBounded, NoExitStatusIsNeverASuccess) {
    const int verdict = fleet::test::in_child([] {
        std::signal(SIGCHLD, SIG_IGN);
        fleet::ProbeLimits limits;
        fleet::Result<fleet::ProbeResult> result = fleet::run_bounded({"/bin/true"}, k_env, limits);
        if (!result) {
            return 10;
        }
        return result->succeeded() ? 11 : result->exit_code() == -1 ? 0 : 12;
    });
    EXPECT_EQ(verdict, 0) << "11: a missing status read as success";
}

TEST(RunBounded, TimesOutAndKillsTheGroup) {
    fleet::ProbeLimits limits;
    limits.timeout = std::chrono::milliseconds(200);
    fleet::Result<fleet::ProbeResult> slow =
        fleet::run_bounded({"/bin/sh", "-c", "sleep 30"}, k_env, limits);
    ASSERT_TRUE(slow);
    EXPECT_TRUE(slow->timed_out);
    EXPECT_FALSE(slow->succeeded());
}

} // namespace
