// Plans made in a scratch run directory for a made-up user: no drop, no agent runs.
#include <algorithm>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include "dispatch/agent_plan.hpp"
#include "support/files.hpp"

namespace fleet {
namespace {

std::string env_value(const AgentPlan& plan, const std::string& name) {
    for (const std::string& entry : plan.env) {
        if (entry.rfind(name + "=", 0) == 0) {
            return entry.substr(name.size() + 1);
        }
    }
    return "(unset)";
}

class AgentPlanTest : public ::testing::Test {
protected:
    AgentPlanTest() : m_log("test", std::make_shared<spdlog::sinks::null_sink_st>()) {}

    void SetUp() override {
        char pattern[] = "/tmp/fleet-agent-plan-test.XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        m_scratch = pattern;
        std::filesystem::create_directory(m_scratch + "/home");
        m_session.identity = Identity{65534, 65534, "nobody", m_scratch + "/home", "/bin/sh", {}};
        m_session.runs_dir = m_scratch + "/runs";
        const RunStore store(m_session.runs_dir);
        ASSERT_TRUE(store.ensure_exists());
        Result<RunDir> run = store.create_run(std::chrono::system_clock::now());
        ASSERT_TRUE(run);
        m_run = std::move(*run);
    }
    void TearDown() override { std::filesystem::remove_all(m_scratch); }

    AgentPlan plan(const AgentConfig& agent, bool unified = false) {
        return plan_agent(agent, m_run, m_session,
                          RunRequest{"run", "fix it", "", unified, "fix it"}, nullptr, m_log);
    }

    spdlog::logger m_log;
    std::string m_scratch;
    Session m_session;
    RunDir m_run;
};

TEST_F(AgentPlanTest, ACommandAgentGetsItsPlaceholdersWorkdirAndEnvironment) {
    AgentConfig agent;
    agent.name = "mine";
    agent.command = {"/bin/echo", "{prompt}", "{run_id}", "{agent}", "{workdir}"};
    agent.env = {{"MODE", "fast"}, {"KEY", "from env"}, {"FLEET_DISPATCH_AGENT", "forged"}};
    agent.secret_env = {{"KEY", "from env_file"}};
    const AgentPlan made = plan(agent);
    EXPECT_EQ(made.launch_error, "");
    EXPECT_EQ(made.executable, "/bin/echo");
    const std::string workdir = m_run.path + "/work-mine";
    EXPECT_EQ(made.args, (std::vector<std::string>{"fix it", m_run.id, "mine", workdir}));
    EXPECT_EQ(made.workdir, workdir);
    struct stat info {};
    ASSERT_EQ(stat(workdir.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0700U);
    EXPECT_FALSE(made.stdin_prompt);
    // The agent's env over the defaults, its secrets over its env, the run's markers last.
    EXPECT_EQ(env_value(made, "MODE"), "fast");
    EXPECT_EQ(env_value(made, "KEY"), "from env_file");
    EXPECT_EQ(env_value(made, "FLEET_DISPATCH_AGENT"), "mine");
    EXPECT_EQ(env_value(made, "FLEET_DISPATCH_RUN_ID"), m_run.id);
    EXPECT_EQ(env_value(made, "FLEET_DISPATCH_RUN_DIR"), m_run.path);
    // Its own home and temporary directory, both 0700 and both writable in its domain; the
    // PATH still finds what the user installed.
    const std::string home = m_scratch + "/home/.local/state/fleet-dispatch/agents/mine";
    EXPECT_EQ(env_value(made, "HOME"), home);
    EXPECT_EQ(env_value(made, "TMPDIR"), m_run.path + "/tmp-mine");
    EXPECT_EQ(made.scratch, m_run.path + "/tmp-mine");
    for (const std::string& dir : {home, made.scratch}) {
        ASSERT_EQ(stat(dir.c_str(), &info), 0) << dir;
        EXPECT_EQ(info.st_mode & 07777, 0700U) << dir;
        EXPECT_NE(std::find(made.access.write.begin(), made.access.write.end(), dir),
                  made.access.write.end())
            << dir;
    }
    EXPECT_EQ(made.access.write.front(), workdir);
    EXPECT_EQ(made.access.mode, ConfineMode::best_effort);
    EXPECT_EQ(env_value(made, "PATH").rfind(m_scratch + "/home/.local/bin:", 0), 0U);
}

// A built-in CLI's home starts as a copy of what it keeps in the user's home (still logged
// in), made once: later runs keep the agent's own state, and the user's files stay theirs.
TEST_F(AgentPlanTest, AnAgentsHomeIsSeededOnceFromTheUsersCliState) {
    const std::string user_home = m_scratch + "/home";
    std::filesystem::create_directories(user_home + "/.codex");
    fleet::test::write_file(user_home + "/.codex/auth.json", "{\"token\":\"t\"}", 0600);
    fleet::test::write_file(user_home + "/.bash_history", "secret", 0600);
    AgentConfig agent;
    agent.name = "codex";
    agent.builtin = true;
    agent.binary = "/bin/true";
    const AgentPlan first = plan(agent);
    const std::string home = env_value(first, "HOME");
    EXPECT_EQ(fleet::test::read_file(home + "/.codex/auth.json"), "{\"token\":\"t\"}");
    EXPECT_FALSE(std::filesystem::exists(home + "/.bash_history"));
    EXPECT_FALSE(std::filesystem::is_symlink(home + "/.codex"));
    fleet::test::write_file(home + "/.codex/auth.json", "the agent's own", 0600);
    fleet::test::write_file(user_home + "/.codex/auth.json", "the user's newer", 0600);
    (void)plan(agent);
    EXPECT_EQ(fleet::test::read_file(home + "/.codex/auth.json"), "the agent's own");
}

TEST_F(AgentPlanTest, ABuiltInAgentGetsItsCliCommandAndJudge) {
    AgentConfig agent;
    agent.name = "claude";
    agent.builtin = true;
    agent.binary = "/bin/true";
    const AgentPlan made = plan(agent);
    EXPECT_EQ(made.launch_error, "");
    EXPECT_EQ(made.executable, "/bin/true");
    EXPECT_TRUE(made.stdin_prompt); // claude -p reads the prompt on stdin
    EXPECT_NE(std::find(made.args.begin(), made.args.end(), "-p"), made.args.end());
    EXPECT_TRUE(static_cast<bool>(made.judge));
}

// A problem is the plan's launch error: this agent fails to start, the others still run.
TEST_F(AgentPlanTest, WhatCannotStartSaysWhy) {
    AgentConfig missing;
    missing.name = "codex";
    missing.builtin = true;
    missing.binary = "fleet-no-such-codex";
    const AgentPlan absent = plan(missing);
    EXPECT_EQ(absent.launch_error.rfind("fleet-no-such-codex: not found in PATH ", 0), 0U)
        << absent.launch_error;
    EXPECT_EQ(absent.launch_error_state, AgentState::spawn_failed);
    std::filesystem::remove(m_run.path + "/work-codex"); // a second plan of the same agent
    EXPECT_EQ(plan(missing, true).launch_error_state, AgentState::skipped); // unified: skipped

    AgentConfig elsewhere;
    elsewhere.name = "mine";
    elsewhere.command = {"/bin/echo"};
    elsewhere.workdir = m_scratch + "/no-such-dir";
    EXPECT_EQ(plan(elsewhere).launch_error,
              "workdir " + m_scratch + "/no-such-dir is not a directory");
}

TEST(AgentPath, ConfiguredFirstThenTheUsualPlacesOnce) {
    Config config;
    config.path = {"~/bin", "/opt/agents/bin", "/usr/local/bin"};
    const std::string path = agent_path(config, "/home/u");
    EXPECT_EQ(path.rfind("/home/u/bin:/opt/agents/bin:/usr/local/bin:/home/u/.local/bin:"
                         "/home/u/.npm-global/bin:/snap/bin:",
                         0),
              0U)
        << path;
    EXPECT_EQ(path.find("/usr/local/bin", path.find("/usr/local/bin") + 1), std::string::npos)
        << path; // once
}

TEST_F(AgentPlanTest, ResolvesAbsoluteIfExecutableElseSearched) {
    EXPECT_EQ(resolve_program("/bin/sh", "/nowhere"), "/bin/sh");
    test::write_file(m_scratch + "/data", "#!/bin/sh\n", 0644);
    EXPECT_EQ(resolve_program(m_scratch + "/data", "/usr/bin"), ""); // not executable
    EXPECT_EQ(resolve_program(m_scratch, "/usr/bin"), "");           // a directory
    EXPECT_EQ(resolve_program("true", "/nowhere:/usr/bin"), "/usr/bin/true");
    EXPECT_EQ(resolve_program("fleet-no-such-program", "/usr/bin"), "");
}

} // namespace
} // namespace fleet
