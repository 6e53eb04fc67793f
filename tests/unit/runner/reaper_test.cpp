// The reaper against real children of the test process: each test starts its own in their own
// sessions (sys/child.hpp) and leaves none behind.
#include <chrono>
#include <fcntl.h>
#include <map>
#include <signal.h>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include "runner/proc.hpp"
#include "runner/reaper.hpp"
#include "sys/child.hpp"

namespace {

using namespace std::chrono_literals;

// Returns once the command runs (exec succeeded): its /proc/PID/environ is the one it was given.
pid_t start_command(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    int output = fleet::ChildSetup::k_null) {
    fleet::ChildSetup setup;
    setup.workdir = "/";
    setup.stdio = {fleet::ChildSetup::k_null, output, output};
    std::vector<std::string> full_env = {"PATH=/usr/bin:/bin"};
    full_env.insert(full_env.end(), env.begin(), env.end());
    fleet::Result<pid_t> pid = fleet::spawn_process(setup, argv, full_env);
    EXPECT_TRUE(pid) << pid.error().message;
    return pid ? *pid : -1;
}

pid_t start(const std::string& script) {
    return start_command({"/bin/sh", "-c", script}, {});
}

class ReaperTest : public ::testing::Test {
protected:
    ReaperTest()
        : m_log("test", std::make_shared<spdlog::sinks::null_sink_mt>()),
          m_reaper(m_io, m_log, 100ms,
                   [this](pid_t pid, const fleet::ExitStatus& exit) { m_exits[pid] = exit; }) {}

    // Whatever a failed test left: killed and reaped.
    void TearDown() override {
        for (const pid_t child : fleet::child_processes()) {
            kill(-child, SIGKILL);
            kill(child, SIGKILL);
        }
        while (!fleet::child_processes().empty()) {
            m_reaper.reap();
        }
    }

    // Reaps until `pid` is reaped, for at most 5 s.
    bool reaped(pid_t pid) {
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (!m_exits.contains(pid) && std::chrono::steady_clock::now() < deadline) {
            m_reaper.reap();
            std::this_thread::sleep_for(5ms);
        }
        return m_exits.contains(pid);
    }

    boost::asio::io_context m_io;
    spdlog::logger m_log;
    fleet::Reaper m_reaper;
    std::map<pid_t, fleet::ExitStatus> m_exits;
};

TEST_F(ReaperTest, ReapsEveryChildWithItsStatus) {
    const pid_t three = start("exit 3");
    const pid_t killed = start("kill -9 $$");
    ASSERT_TRUE(reaped(three));
    ASSERT_TRUE(reaped(killed));
    EXPECT_TRUE(m_exits[three].exited);
    EXPECT_EQ(m_exits[three].code, 3);
    EXPECT_FALSE(m_exits[killed].exited);
    EXPECT_EQ(m_exits[killed].signal, SIGKILL);
}

// Orphans are found by both markers, never by one alone, and the running agents are left out.
TEST_F(ReaperTest, FindsTheChildrenMarkedForAnAgent) {
    const std::vector<std::string> sleep = {"/bin/sleep", "30"};
    const pid_t marked =
        start_command(sleep, {"FLEET_DISPATCH_RUN_ID=run-1", "FLEET_DISPATCH_AGENT=claude"});
    const pid_t other_run =
        start_command(sleep, {"FLEET_DISPATCH_RUN_ID=run-2", "FLEET_DISPATCH_AGENT=claude"});
    const pid_t unmarked = start_command(sleep, {"FLEET_DISPATCH_RUN_ID=run-1"});
    EXPECT_EQ(m_reaper.orphans("run-1", "claude", {}), std::vector<pid_t>{marked});
    EXPECT_EQ(m_reaper.orphans("run-1", "claude", {marked}), std::vector<pid_t>{});
    EXPECT_EQ(m_reaper.orphans("run-1", "codex", {}), std::vector<pid_t>{});
    EXPECT_EQ(m_reaper.orphans("run-2", "claude", {}), std::vector<pid_t>{other_run});
    for (const pid_t pid : {marked, other_run, unmarked}) {
        kill(pid, SIGKILL);
        EXPECT_TRUE(reaped(pid));
    }
}

// As a subreaper the test reaps the whole group itself (init would, in its own time).
TEST(SignalGroup, ReachesTheWholeGroupAndToleratesItsEnd) {
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL), 0);
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    const pid_t leader =
        start_command({"/bin/sh", "-c", "sleep 30 >&- & sleep 30 >&- & echo; wait"}, {}, fds[1]);
    close(fds[1]);
    ASSERT_GT(leader, 0);
    char line = 0;
    ASSERT_EQ(read(fds[0], &line, 1), 1); // both sleeps are forked
    close(fds[0]);
    EXPECT_TRUE(fleet::group_exists(leader));
    fleet::signal_group(leader, SIGKILL);
    int reaped = 0;
    while (waitpid(-1, nullptr, 0) > 0) { // the leader, then its sleeps, reparented to us
        ++reaped;
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0UL, 0UL, 0UL, 0UL);
    EXPECT_EQ(reaped, 3);
    EXPECT_FALSE(fleet::group_exists(leader));
    fleet::signal_group(leader, SIGKILL); // gone: nothing to tolerate but ESRCH
    EXPECT_FALSE(fleet::group_exists(0)); // never "every process of ours"
}

// The end of a run: TERM first, KILL after the grace for what ignores it, then `done`, on the
// io_context's timers (the test thread never sleeps inside them).
TEST_F(ReaperTest, SweepsTermThenKillThenSaysDone) {
    const pid_t polite = start("trap 'exit 0' TERM; while :; do sleep 0.05; done");
    const pid_t stubborn = start("trap '' TERM; while :; do sleep 0.05; done");
    std::this_thread::sleep_for(100ms); // both have set their traps
    bool done = false;
    const auto began = std::chrono::steady_clock::now();
    m_reaper.sweep([&] { done = true; });
    EXPECT_FALSE(done); // posted, never run inside its caller
    m_io.run_for(10s);
    ASSERT_TRUE(done);
    EXPECT_GE(std::chrono::steady_clock::now() - began, 100ms); // the grace was given
    EXPECT_TRUE(fleet::child_processes().empty());
    ASSERT_TRUE(m_exits.contains(polite));
    ASSERT_TRUE(m_exits.contains(stubborn));
    EXPECT_TRUE(m_exits[polite].exited);
    EXPECT_EQ(m_exits[stubborn].signal, SIGKILL);
}

TEST_F(ReaperTest, SweepingNothingIsDoneAtOnce) {
    bool done = false;
    m_reaper.sweep([&] { done = true; });
    m_io.run_for(1s);
    EXPECT_TRUE(done);
}

} // namespace
