// One AgentRun at a time through its phases, with real processes (/bin/sh scripts) on a real
// io_context: what the supervisor does around it (SIGCHLD to the reaper, the reaper to
// on_exit) is done here by the fixture, as a child subreaper like dispatch.
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include "runner/agent_run.hpp"
#include "runner/proc.hpp"
#include "support/files.hpp"
#include "sys/io.hpp"
#include "sys/landlock.hpp"

namespace {

using namespace std::chrono_literals;
using fleet::AgentPhase;
using fleet::AgentState;

class AgentRunTest : public ::testing::Test {
protected:
    AgentRunTest()
        : m_log("test", std::make_shared<spdlog::sinks::ostream_sink_st>(m_log_text)),
          m_console(-1), m_signals(m_io, SIGCHLD),
          m_reaper(m_io, m_log, 200ms,
                   [this](pid_t pid, const fleet::ExitStatus& exit) {
                       if (m_agent && m_agent->pid() == pid) {
                           m_agent->on_exit(exit);
                       }
                   }),
          m_shared{m_io,
                   m_run,
                   m_run.id,
                   m_log,
                   m_console,
                   m_buffer.get(),
                   64 * 1024,
                   false,
                   fleet::TrackLastLine::yes,
                   200ms,
                   fleet::landlock_abi(),
                   m_prompt,
                   m_reaper,
                   [this] { return running(); },
                   [this] { ++m_changes; },
                   [this] { ++m_log_failures; },
                   [this] { m_finished = true; }} {}

    void SetUp() override {
        ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL), 0);
        char pattern[] = "/tmp/fleet-agent-run-test.XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        m_dir = pattern;
        ASSERT_EQ(mkdir((m_dir + "/run").c_str(), 0700), 0);
        ASSERT_EQ(mkdir((m_dir + "/work").c_str(), 0700), 0);
        m_run.id = "20261201T000000Z-test";
        m_run.path = m_dir + "/run";
        m_run.dir = fleet::Fd(open(m_run.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(m_run.dir.valid());
        wait_for_children();
    }

    // No child is left, whatever a failed test left; then the test process is no subreaper.
    void TearDown() override {
        m_agent.reset();
        for (const pid_t child : fleet::child_processes()) {
            kill(-child, SIGKILL);
            kill(child, SIGKILL);
        }
        while (!fleet::child_processes().empty()) {
            m_reaper.reap();
        }
        prctl(PR_SET_CHILD_SUBREAPER, 0UL, 0UL, 0UL, 0UL);
        std::filesystem::remove_all(m_dir);
    }

    void wait_for_children() {
        m_signals.async_wait([this](const boost::system::error_code& ec, int /*sig*/) {
            if (!ec) {
                m_reaper.reap();
                wait_for_children();
            }
        });
    }

    fleet::AgentPlan plan(const std::string& script) const {
        fleet::AgentPlan plan;
        plan.name = "probe";
        plan.executable = "/bin/sh";
        plan.args = {"-c", script};
        plan.env = {"PATH=/usr/bin:/bin", "FLEET_DISPATCH_RUN_ID=" + m_run.id,
                    "FLEET_DISPATCH_AGENT=probe"};
        plan.workdir = m_dir + "/work";
        plan.access.mode = fleet::ConfineMode::off; // but in the tests of confinement
        return plan;
    }

    // Starts the agent and runs the loop until it finished (at most 10 s), noting each phase.
    void run(fleet::AgentPlan agent_plan) {
        m_agent = std::make_unique<fleet::AgentRun>(m_shared, std::move(agent_plan), m_status);
        m_agent->start();
        note_phase();
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (m_agent->phase() != AgentPhase::finished &&
               std::chrono::steady_clock::now() < deadline) {
            m_io.run_one_for(100ms);
            note_phase();
        }
    }

    void note_phase() {
        if (m_phases.empty() || m_phases.back() != m_agent->phase()) {
            m_phases.push_back(m_agent->phase());
        }
    }

    std::vector<pid_t> running() const {
        if (m_agent && m_agent->phase() == AgentPhase::running) {
            return {m_agent->pid()};
        }
        return {};
    }

    std::string log() const { return fleet::test::read_file(m_run.path + "/probe.log"); }

    std::string m_dir;
    fleet::RunDir m_run;
    boost::asio::io_context m_io;
    std::ostringstream m_log_text;
    spdlog::logger m_log;
    fleet::Console m_console;
    std::unique_ptr<char[]> m_buffer = std::make_unique<char[]>(fleet::k_copy_buffer_size);
    fleet::Fd m_prompt;
    boost::asio::signal_set m_signals;
    fleet::Reaper m_reaper;
    fleet::AgentRunShared m_shared;
    fleet::AgentStatus m_status;
    std::unique_ptr<fleet::AgentRun> m_agent;
    std::vector<AgentPhase> m_phases;
    int m_changes = 0;
    int m_log_failures = 0;
    bool m_finished = false;
};

TEST_F(AgentRunTest, SucceedsWithEveryByteInItsLog) {
    run(plan("printf 'hello\\n'; printf 'no newline'"));
    ASSERT_TRUE(m_finished) << m_log_text.str();
    EXPECT_EQ(m_status.state, AgentState::succeeded);
    EXPECT_EQ(m_status.exit_code, 0);
    EXPECT_EQ(log(), "hello\nno newline");
    EXPECT_EQ(m_status.bytes, 16U);
    EXPECT_EQ(m_status.log, m_run.path + "/probe.log");
    EXPECT_FALSE(m_status.started_at.empty());
    EXPECT_FALSE(m_status.finished_at.empty());
    EXPECT_GT(m_status.pid, 0);
    EXPECT_EQ(m_agent->live(std::chrono::steady_clock::now()).last_line, "no newline");
}

// The pipe can reach EOF before the exit is known, or after: finished only with both.
TEST_F(AgentRunTest, FinishesOnTheExitNotOnPipeEof) {
    run(plan("exec >/dev/null 2>&1; sleep 0.3; exit 3"));
    ASSERT_TRUE(m_finished);
    EXPECT_EQ(m_status.state, AgentState::failed);
    EXPECT_EQ(m_status.exit_code, 3);
    EXPECT_EQ(m_status.reason, "exit 3");
}

TEST_F(AgentRunTest, ItsJudgeReadsTheLogAndMayFailAnExitZero) {
    fleet::AgentPlan agent = plan("echo 'API Error: 401'");
    std::string judged;
    std::optional<int> judged_code;
    agent.judge = [&](const std::string& tail, std::optional<int> code) {
        judged = tail;
        judged_code = code;
        fleet::AgentOutcome outcome;
        outcome.failed = true;
        outcome.reason = "API error 401";
        outcome.usage.turns = 2;
        return outcome;
    };
    run(std::move(agent));
    EXPECT_EQ(judged, "API Error: 401\n");
    EXPECT_EQ(judged_code, 0);
    EXPECT_EQ(m_status.state, AgentState::failed);
    EXPECT_EQ(m_status.reason, "API error 401");
    EXPECT_EQ(m_status.usage.turns, 2);
}

// A parser that throws costs its agent the verdict, never the run.
TEST_F(AgentRunTest, AJudgeThatThrowsFailsTheAgentOnly) {
    fleet::AgentPlan agent = plan("true");
    agent.judge = [](const std::string&, std::optional<int>) -> fleet::AgentOutcome {
        throw std::runtime_error("bad json");
    };
    run(std::move(agent));
    ASSERT_TRUE(m_finished);
    EXPECT_EQ(m_status.state, AgentState::failed);
    EXPECT_EQ(m_status.reason, "output could not be judged");
    EXPECT_NE(m_log_text.str().find("its output could not be judged: bad json"), std::string::npos);
}

TEST_F(AgentRunTest, ALaunchErrorFinishesItAtOnceInItsState) {
    fleet::AgentPlan agent = plan("true");
    agent.launch_error = "gemini is not installed";
    agent.launch_error_state = AgentState::skipped;
    run(std::move(agent));
    EXPECT_EQ(m_phases, std::vector{AgentPhase::finished});
    EXPECT_FALSE(m_finished); // `finished` is for agents that ran: start() returned finished
    EXPECT_EQ(m_status.state, AgentState::skipped);
    EXPECT_EQ(m_status.reason, "gemini is not installed");
    EXPECT_EQ(m_status.pid, 0);

    // The control: a spawn that fails is spawn_failed, with the spawner's reason.
    fleet::AgentPlan missing = plan("true");
    missing.name = "missing";
    missing.workdir = m_dir + "/no-such-dir";
    fleet::AgentStatus status;
    fleet::AgentRun run(m_shared, std::move(missing), status);
    run.start();
    EXPECT_EQ(run.phase(), AgentPhase::finished);
    EXPECT_EQ(status.state, AgentState::spawn_failed);
    EXPECT_NE(status.reason.find("No such file or directory"), std::string::npos) << status.reason;
}

// Confined, the agent writes its work directory and nothing beside it; the level reached is
// recorded. A path of its access that is missing makes it spawn_failed, naming the path.
TEST_F(AgentRunTest, AConfinedAgentWritesOnlyWhatItWasGiven) {
    if (fleet::landlock_abi() == 0) {
        GTEST_SKIP() << "this kernel has no Landlock";
    }
    fleet::AgentPlan agent = plan("echo in > inside && echo out > ../outside");
    agent.access.mode = fleet::ConfineMode::best_effort;
    agent.access.system = {"/usr", "/bin", "/lib", "/lib64", "/etc"};
    agent.access.write = {m_dir + "/work"};
    run(std::move(agent));
    EXPECT_EQ(m_status.state, AgentState::failed) << log();
    EXPECT_TRUE(std::filesystem::exists(m_dir + "/work/inside"));
    EXPECT_FALSE(std::filesystem::exists(m_dir + "/outside"));
    ASSERT_TRUE(m_status.confinement.has_value());
    EXPECT_EQ(m_status.confinement->landlock_abi, fleet::landlock_abi());
    EXPECT_NE(m_status.confinement->level, fleet::ConfinementLevel::off);

    fleet::AgentPlan missing = plan("true");
    missing.name = "missing";
    missing.access.mode = fleet::ConfineMode::best_effort;
    missing.access.write = {m_dir + "/no-such-dir"};
    fleet::AgentStatus status;
    fleet::AgentRun unstarted(m_shared, std::move(missing), status);
    unstarted.start();
    EXPECT_EQ(status.state, AgentState::spawn_failed);
    EXPECT_NE(status.reason.find("confinement: landlock: " + m_dir + "/no-such-dir"),
              std::string::npos)
        << status.reason;
}

TEST_F(AgentRunTest, APendingAgentCancelledNeverRuns) {
    m_agent = std::make_unique<fleet::AgentRun>(m_shared, plan("true"), m_status);
    m_agent->cancel_pending(AgentState::cancelled, "cancelled before it started");
    EXPECT_EQ(m_agent->phase(), AgentPhase::finished);
    EXPECT_EQ(m_status.state, AgentState::cancelled);
    EXPECT_EQ(m_status.pid, 0);
    EXPECT_EQ(m_changes, 1);
    m_agent->start(); // finished stays finished
    m_agent->stop(AgentState::timed_out, "run timed out");
    EXPECT_EQ(m_agent->phase(), AgentPhase::finished);
    EXPECT_EQ(m_status.state, AgentState::cancelled);
    EXPECT_EQ(m_status.pid, 0);
}

// A timeout sends TERM; what the agent then exits with does not make it a success.
TEST_F(AgentRunTest, ATimeoutSticksWhateverTheAgentExitsWith) {
    fleet::AgentPlan agent = plan("trap 'exit 0' TERM; while :; do sleep 0.02; done");
    agent.timeout = fleet::Duration(150);
    run(std::move(agent));
    ASSERT_TRUE(m_finished);
    EXPECT_EQ(m_status.state, AgentState::timed_out);
    EXPECT_EQ(m_status.exit_code, 0);
    EXPECT_EQ(m_status.reason, "timed out after 150ms");
}

TEST_F(AgentRunTest, WhatIgnoresTermIsKilledAfterTheGrace) {
    m_agent = std::make_unique<fleet::AgentRun>(
        m_shared, plan("trap '' TERM; echo ready; while :; do sleep 0.02; done"), m_status);
    m_agent->start();
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (log().empty() && std::chrono::steady_clock::now() < deadline) {
        m_io.run_one_for(10ms);
    }
    const auto stopped = std::chrono::steady_clock::now();
    m_agent->stop(AgentState::cancelled, "cancelled by dispatch cancel");
    while (!m_finished && std::chrono::steady_clock::now() < deadline) {
        m_io.run_one_for(100ms);
    }
    ASSERT_TRUE(m_finished);
    EXPECT_GE(std::chrono::steady_clock::now() - stopped, 200ms);
    EXPECT_EQ(m_status.state, AgentState::cancelled);
    EXPECT_EQ(m_status.signal, SIGKILL);
    EXPECT_NE(m_log_text.str().find("still running after 200ms; SIGKILL"), std::string::npos);
}

// What it leaves in another session, with its markers, is found (we are its subreaper) and
// stopped before the verdict; it held the pipe, which then reaches EOF.
TEST_F(AgentRunTest, ItsLeftoversAreStoppedBeforeItsVerdict) {
    run(plan("setsid sleep 30 & sleep 0.1; echo left"));
    ASSERT_TRUE(m_finished);
    EXPECT_EQ(m_status.state, AgentState::succeeded);
    EXPECT_EQ(log(), "left\n");
    // Killed, and past the release of its memory (its markers are gone with it): it runs no
    // more code, but may still be on its way to a zombie for a moment.
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    m_reaper.reap();
    while (!fleet::child_processes().empty() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
        m_reaper.reap();
    }
    EXPECT_TRUE(fleet::child_processes().empty());
    EXPECT_EQ(m_log_text.str().find("output pipe still open"), std::string::npos);
}

// A descendant without the markers, in its own session, keeps the pipe open: read for grace
// + 1 s after the exit, then closed; the agent is judged all the same. (The run's final sweep
// stops such a process; here TearDown does.)
TEST_F(AgentRunTest, APipeHeldPastTheExitIsDrainedThenClosed) {
    const auto began = std::chrono::steady_clock::now();
    // (The agent waits until its descendant has left its group: else that would be a leftover.)
    run(plan("env -u FLEET_DISPATCH_AGENT setsid sh -c 'sleep 0.3; echo late; sleep 30' & "
             "sleep 0.1; echo early"));
    ASSERT_TRUE(m_finished);
    EXPECT_EQ(m_phases,
              (std::vector{AgentPhase::running, AgentPhase::draining, AgentPhase::finished}));
    EXPECT_GE(std::chrono::steady_clock::now() - began, 1200ms);
    EXPECT_EQ(m_status.state, AgentState::succeeded);
    EXPECT_EQ(log(), "early\nlate\n"); // read while draining
    EXPECT_NE(m_log_text.str().find("output pipe still open after exit; closing it"),
              std::string::npos);
}

TEST_F(AgentRunTest, ReadsTheSealedPromptOnStdin) {
    m_prompt = fleet::Fd(memfd_create("prompt", MFD_CLOEXEC));
    ASSERT_EQ(fleet::write_all(m_prompt.get(), "fix the bug"), 0);
    fleet::AgentPlan agent = plan("cat");
    agent.stdin_prompt = true;
    run(std::move(agent));
    EXPECT_EQ(log(), "fix the bug"); // from its start, whatever the memfd's offset
}

// Only a regular file is collected; a link the agent planted is not followed.
TEST_F(AgentRunTest, CollectsItsArtifactButNotALink) {
    fleet::AgentPlan agent = plan("echo '{\"ok\":true}' > result.json");
    agent.artifact = "result.json";
    run(std::move(agent));
    EXPECT_EQ(m_status.artifact, m_run.path + "/probe.result.json");
    EXPECT_EQ(fleet::test::read_file(m_status.artifact), "{\"ok\":true}\n");

    m_finished = false;
    fleet::AgentPlan linked = plan("ln -s /etc/shadow report.md");
    linked.name = "linked";
    linked.artifact = "report.md";
    fleet::AgentStatus status;
    m_agent = std::make_unique<fleet::AgentRun>(m_shared, std::move(linked), status);
    m_agent->start();
    while (!m_finished) {
        m_io.run_one_for(100ms);
    }
    EXPECT_EQ(status.state, AgentState::succeeded);
    EXPECT_EQ(status.artifact, "");
    EXPECT_FALSE(std::filesystem::exists(m_run.path + "/linked.report.md"));
    EXPECT_NE(m_log_text.str().find("no report.md collected"), std::string::npos);
}

} // namespace
