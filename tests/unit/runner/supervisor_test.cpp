// The supervisor with /bin/sh scripts as its agents, in a scratch run directory: no dispatch,
// no privilege drop, no agent CLI. The test process is the runner (a child subreaper, as the
// supervisor makes it), and no child of it survives a test.
#include <chrono>
#include <filesystem>
#include <signal.h>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include "runner/proc.hpp"
#include "runner/run_store.hpp"
#include "runner/supervisor.hpp"
#include "support/files.hpp"

namespace {

using fleet::AgentState;
using namespace std::chrono_literals;

class SupervisorTest : public ::testing::Test {
protected:
    SupervisorTest() : m_log("test", std::make_shared<spdlog::sinks::null_sink_st>()) {}

    void SetUp() override {
        char pattern[] = "/tmp/fleet-supervisor-test.XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        m_scratch = pattern;
        const fleet::RunStore store(m_scratch + "/runs");
        ASSERT_TRUE(store.ensure_exists());
        fleet::Result<fleet::RunDir> run = store.create_run(std::chrono::system_clock::now());
        ASSERT_TRUE(run);
        m_run = std::move(*run);
        fleet::test::write_file(m_run.path + "/prompt.txt", "the prompt", 0600);
        m_options.console_fd = -1;
        m_options.grace = fleet::Duration(200);
    }

    void TearDown() override {
        for (const pid_t child : fleet::child_processes()) {
            kill(-child, SIGKILL);
            kill(child, SIGKILL);
        }
        while (waitpid(-1, nullptr, WNOHANG) > 0 || !fleet::child_processes().empty()) {
            usleep(1000);
        }
        prctl(PR_SET_CHILD_SUBREAPER, 0UL, 0UL, 0UL, 0UL);
        std::filesystem::remove_all(m_scratch);
    }

    void agent(const std::string& name, const std::string& script) {
        fleet::AgentPlan plan;
        plan.name = name;
        plan.executable = "/bin/sh";
        plan.args = {"-c", script};
        plan.env = {"PATH=/usr/bin:/bin", "RUN=" + m_run.path, "FLEET_DISPATCH_RUN_ID=" + m_run.id,
                    "FLEET_DISPATCH_AGENT=" + name};
        plan.workdir = m_scratch;
        plan.access.mode = fleet::ConfineMode::off; // agent_run_test confines one
        plan.stdin_prompt = true;
        m_plans.push_back(std::move(plan));
    }

    // Runs the plans to the end; the run's exit code.
    int run() {
        fleet::RunStatus status;
        status.run_id = m_run.id;
        for (const fleet::AgentPlan& plan : m_plans) {
            fleet::AgentStatus agent;
            agent.name = plan.name;
            status.agents.push_back(agent);
        }
        fleet::Supervisor supervisor(m_run, std::move(status), m_plans, m_options, m_log);
        const int exit_code = supervisor.run();
        m_final = supervisor.status();
        return exit_code;
    }

    nlohmann::json status_json() const {
        return nlohmann::json::parse(fleet::test::read_file(m_run.path + "/status.json"));
    }

    std::string log(const std::string& name) const {
        return fleet::test::read_file(m_run.path + "/" + name + ".log");
    }

    spdlog::logger m_log;
    std::string m_scratch;
    fleet::RunDir m_run;
    std::vector<fleet::AgentPlan> m_plans;
    fleet::SupervisorOptions m_options;
    fleet::RunStatus m_final;
};

TEST_F(SupervisorTest, RunsEveryAgentAndWritesTheFinalStatusLast) {
    agent("a", "cat; echo; echo a-done");
    agent("b", "echo b-done; exit 3");
    EXPECT_EQ(run(), 1); // an agent failed
    EXPECT_EQ(log("a"), "the prompt\na-done\n");
    EXPECT_EQ(log("b"), "b-done\n");
    const nlohmann::json status = status_json();
    EXPECT_EQ(status["state"], "failed");
    EXPECT_EQ(status["exit_code"], 1);
    EXPECT_EQ(status["agents"][0]["state"], "succeeded");
    EXPECT_EQ(status["agents"][1]["state"], "failed");
    EXPECT_EQ(status["agents"][1]["exit_code"], 3);
    EXPECT_EQ(fleet::test::read_file(m_run.path + "/status"), "1\n"); // the legacy file
    EXPECT_FALSE(std::filesystem::exists(m_run.path + "/.reserve"));  // the ballast is freed
}

TEST_F(SupervisorTest, StartsNoMoreThanMaxParallel) {
    m_options.max_parallel = 2;
    const std::string script = "date +%s%N >> \"$RUN/starts\"; sleep 0.3";
    agent("a", script);
    agent("b", script);
    agent("c", script);
    const auto began = std::chrono::steady_clock::now();
    EXPECT_EQ(run(), 0);
    EXPECT_GE(std::chrono::steady_clock::now() - began, 600ms); // two waves
    const std::vector<std::string> starts =
        fleet::test::lines_of(fleet::test::read_file(m_run.path + "/starts"));
    ASSERT_EQ(starts.size(), 3U);
    // The third started when one of the first two had ended.
    EXPECT_GE(std::stoll(starts[2]) - std::stoll(starts[0]), 250'000'000LL);
}

// Every agent reads the prompt as it was before any ran, whatever an earlier one did to it.
TEST_F(SupervisorTest, LaterAgentsReadTheSealedPrompt) {
    m_options.max_parallel = 1;
    agent("first", "cat >/dev/null; echo rewritten > \"$RUN/prompt.txt\"");
    agent("second", "cat");
    EXPECT_EQ(run(), 0);
    EXPECT_EQ(log("second"), "the prompt");
}

TEST_F(SupervisorTest, TheRunTimeoutStopsEveryAgent) {
    m_options.run_timeout = fleet::Duration(300);
    agent("slow", "sleep 30");
    agent("stubborn", "trap '' TERM; while :; do sleep 0.05; done");
    EXPECT_EQ(run(), 124);
    EXPECT_EQ(m_final.agents[0].state, AgentState::timed_out);
    EXPECT_EQ(m_final.agents[1].state, AgentState::timed_out);
    EXPECT_EQ(m_final.agents[1].signal, SIGKILL); // after the grace
    EXPECT_EQ(status_json()["state"], "timed_out");
}

// SIGTERM to the runner (what SSM's cancel sends) cancels the run: the agents get TERM.
TEST_F(SupervisorTest, SigtermCancelsTheRun) {
    agent("a", "kill -TERM $PPID; sleep 30");
    agent("b", "sleep 30");
    EXPECT_EQ(run(), 130);
    EXPECT_EQ(m_final.agents[0].state, AgentState::cancelled);
    EXPECT_EQ(m_final.agents[0].reason, "dispatch received SIGTERM");
    EXPECT_EQ(m_final.agents[1].state, AgentState::cancelled);
}

// `dispatch cancel RUN --agent NAME`: the request file, then SIGUSR1; only that agent stops.
TEST_F(SupervisorTest, OneAgentCancelledTheOthersGoOn) {
    agent("a", "sleep 30");
    agent("b", "sleep 0.2; touch \"$RUN/cancel-a\"; kill -USR1 $PPID; sleep 0.2; echo b-done");
    EXPECT_EQ(run(), 130);
    EXPECT_EQ(m_final.agents[0].state, AgentState::cancelled);
    EXPECT_EQ(m_final.agents[0].reason, "cancelled by dispatch cancel");
    EXPECT_EQ(m_final.agents[1].state, AgentState::succeeded);
    EXPECT_EQ(log("b"), "b-done\n");
    EXPECT_FALSE(std::filesystem::exists(m_run.path + "/cancel-a")); // taken
}

// Whatever an agent leaves, marked or not, in its group or out of it, is gone after the run.
TEST_F(SupervisorTest, NoProcessOutlivesTheRun) {
    agent("a", "sleep 30 & env -u FLEET_DISPATCH_AGENT setsid sleep 30 >/dev/null & "
               "setsid sh -c 'trap \"\" TERM; sleep 30' >/dev/null & sleep 0.1; echo left");
    EXPECT_EQ(run(), 0);
    EXPECT_TRUE(fleet::child_processes().empty());
}

// The live display gets each agent's state and last line, and a final picture.
TEST_F(SupervisorTest, TheTickSeesTheAgents) {
    std::vector<std::vector<fleet::LiveAgent>> ticks;
    m_options.on_tick = [&](const std::vector<fleet::LiveAgent>& now) { ticks.push_back(now); };
    agent("a", "echo working; sleep 0.7; echo last words");
    EXPECT_EQ(run(), 0);
    ASSERT_GE(ticks.size(), 2U); // the first at the start, the final one at the end
    EXPECT_EQ(ticks.back()[0].state, AgentState::succeeded);
    EXPECT_EQ(ticks.back()[0].last_line, "last words");
    EXPECT_EQ(ticks.back()[0].bytes, 19U);
}

} // namespace
