#include <algorithm>
#include <filesystem>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include "dispatch/agent_access.hpp"
#include "support/files.hpp"

namespace {

namespace fs = std::filesystem;
using fleet::AccessInputs;

bool has(const std::vector<std::string>& paths, const std::string& path) {
    return std::find(paths.begin(), paths.end(), path) != paths.end();
}

// A scratch home with a runs tree, an npm-style install in a dotfile directory, a script at the
// top of the home, and a node interpreter of the user's own.
class AgentAccessTest : public ::testing::Test {
protected:
    void SetUp() override {
        m_home = fs::temp_directory_path() / ("fl-access." + std::to_string(::getpid()));
        m_runs = m_home + "/.local/state/fleet-dispatch/runs";
        m_run = m_runs + "/20261201T000000Z-abcd";
        fs::create_directories(m_run + "/work-claude");
        const std::string package = m_home + "/.npm-global/lib/node_modules/@x/cli";
        fs::create_directories(package);
        fs::create_directories(m_home + "/.npm-global/bin");
        fs::create_directories(m_home + "/tools/node/bin");
        fleet::test::write_file(m_home + "/tools/node/bin/node", "", 0755);
        fleet::test::write_file(package + "/cli.js", "#!/usr/bin/env -S node --flag\n", 0755);
        fs::create_symlink(package + "/cli.js", m_home + "/.npm-global/bin/cli");
        fleet::test::write_file(m_home + "/loose-script", "#!/bin/sh\n", 0755);
        fs::create_directories(m_home + "/.ssh");
        fs::create_directories(m_home + "/project");
    }
    void TearDown() override { fs::remove_all(m_home); }

    AccessInputs inputs(const std::string& executable) const {
        return {m_home,
                m_runs,
                m_run,
                m_run + "/work-claude",
                fleet::agent_homes_dir(m_home) + "/claude",
                m_run + "/tmp-claude",
                executable,
                m_home + "/tools/node/bin:/usr/bin",
                {}};
    }

    std::string m_home, m_runs, m_run;
};

TEST_F(AgentAccessTest, AnNpmCliGetsItsTreeAndItsInterpreter) {
    fleet::AgentConfig agent;
    const fleet::AgentAccess access = fleet::agent_access(agent, fleet::ConfineMode::best_effort,
                                                          inputs(m_home + "/.npm-global/bin/cli"));
    EXPECT_TRUE(has(access.read, m_home + "/.npm-global/lib/node_modules")) << access.read[0];
    EXPECT_TRUE(has(access.read, m_home + "/tools/node")); // #!/usr/bin/env -S node: its prefix
    EXPECT_TRUE(has(access.read, m_run + "/prompt.txt"));
    EXPECT_TRUE(has(access.write, m_run + "/work-claude"));
    EXPECT_TRUE(has(access.write, m_run + "/tmp-claude"));
    EXPECT_TRUE(has(access.write, fleet::agent_homes_dir(m_home) + "/claude"));
    EXPECT_TRUE(has(access.system, "/usr"));
    EXPECT_TRUE(has(access.devices, "/dev/null"));
    // Nothing that holds the home, the runs tree or a sibling.
    for (const auto* list : {&access.read, &access.write}) {
        for (const std::string& path : *list) {
            EXPECT_NE(path, m_home);
            EXPECT_NE(path, m_runs);
            EXPECT_NE(path, m_run);
            EXPECT_NE(path, fleet::agent_homes_dir(m_home));
        }
    }
}

// A program whose directory is the home itself gets only its own file.
TEST_F(AgentAccessTest, AProgramInTheHomeGetsItsFileNotTheHome) {
    fleet::AgentConfig agent;
    const fleet::AgentAccess access = fleet::agent_access(agent, fleet::ConfineMode::best_effort,
                                                          inputs(m_home + "/loose-script"));
    EXPECT_TRUE(has(access.read, m_home + "/loose-script"));
    EXPECT_FALSE(has(access.read, m_home));
}

// A pipx or virtualenv CLI imports from the venv's lib/: its prefix is granted, not only bin/.
TEST_F(AgentAccessTest, AVenvCliGetsItsWholeVenv) {
    const std::string venv = m_home + "/.local/share/pipx/venvs/aider-chat";
    fs::create_directories(venv + "/bin");
    fs::create_directories(venv + "/lib/python3.11/site-packages");
    fleet::test::write_file(venv + "/bin/aider", "#!" + venv + "/bin/python\n", 0755);
    fs::create_symlink("/usr/bin/python3", venv + "/bin/python");
    fleet::AgentConfig agent;
    const fleet::AgentAccess access =
        fleet::agent_access(agent, fleet::ConfineMode::best_effort, inputs(venv + "/bin/aider"));
    EXPECT_TRUE(has(access.read, venv)) << access.read[0];
}

// A #! line steers nothing: a directory, a relative name through env, or an env of the
// agent's own grant no more than the file it names (the control: the npm test above).
TEST_F(AgentAccessTest, AHashBangLineCannotWidenTheGrant) {
    fleet::AgentConfig agent;
    const std::vector<std::string> lines = {"#!" + m_home + "\n", "#!/usr/bin/env ../../project\n",
                                            "#!/usr/bin/env -S " + m_home + "\n"};
    for (const std::string& line : lines) {
        fleet::test::write_file(m_home + "/tools/node/bin/sneaky", line, 0755);
        const fleet::AgentAccess access = fleet::agent_access(
            agent, fleet::ConfineMode::best_effort, inputs(m_home + "/tools/node/bin/sneaky"));
        EXPECT_FALSE(has(access.read, m_home)) << line;
        EXPECT_FALSE(has(access.read, m_home + "/project")) << line;
        EXPECT_EQ(access.read.size(), 2U) << line; // its own prefix and prompt.txt
    }
}

TEST_F(AgentAccessTest, ConfiguredPathsAndPortsAreAdded) {
    fleet::AgentConfig agent;
    agent.read = {"~/project"};
    agent.write = {"/var/tmp"};
    agent.tcp_connect = {8443};
    agent.base_url = "http://127.0.0.1:18080/v1";
    const fleet::AgentAccess access =
        fleet::agent_access(agent, fleet::ConfineMode::required, inputs(""));
    EXPECT_EQ(access.mode, fleet::ConfineMode::required);
    EXPECT_TRUE(has(access.read, m_home + "/project"));
    EXPECT_TRUE(has(access.write, "/var/tmp"));
    EXPECT_EQ(access.tcp_connect, (std::vector<uint16_t>{8443, 18080}));
}

TEST_F(AgentAccessTest, ConfigPathsThatGrantTooMuchAreRefused) {
    fleet::Config config;
    config.source = "test";
    fleet::AgentConfig& agent = config.agents["claude"];
    const auto problem = [&](const std::string& read) {
        agent.read = {read};
        const fleet::Status checked = fleet::check_access_paths(config, m_home, m_runs);
        return checked ? std::string() : checked.error().message;
    };
    EXPECT_EQ(problem("~/project"), ""); // the control
    EXPECT_EQ(problem("/usr/share"), "");
    EXPECT_NE(problem("project").find("must be an absolute path"), std::string::npos);
    EXPECT_NE(problem("~/missing").find("No such file"), std::string::npos);
    EXPECT_NE(problem("/").find("would grant the user's home"), std::string::npos);
    EXPECT_NE(problem(m_home).find("would grant the user's home"), std::string::npos);
    EXPECT_NE(problem("~/.ssh").find("dotfile"), std::string::npos);
    EXPECT_NE(problem(m_run).find("runs tree"), std::string::npos);
    EXPECT_NE(problem("~/.local/state/fleet-dispatch/runs/../runs").find("runs tree"),
              std::string::npos);
    EXPECT_NE(problem("~/.ssh").find("agents.claude.read: "), std::string::npos);
    agent.read.clear();
    agent.workdir = m_home;
    const fleet::Status workdir = fleet::check_access_paths(config, m_home, m_runs);
    ASSERT_FALSE(workdir);
    EXPECT_NE(workdir.error().message.find("agents.claude.workdir"), std::string::npos);
}

TEST(UrlPort, ExplicitOrBySchemeElseNone) {
    EXPECT_EQ(fleet::url_port("http://127.0.0.1:18080/v1"), 18080);
    EXPECT_EQ(fleet::url_port("https://api.example.com/v1"), 443);
    EXPECT_EQ(fleet::url_port("http://user:pw@host/x"), 80);
    EXPECT_EQ(fleet::url_port("http://[::1]:9000"), 9000);
    EXPECT_EQ(fleet::url_port("http://[::1]/"), 80);
    EXPECT_EQ(fleet::url_port("ftp://host"), 0);
    EXPECT_EQ(fleet::url_port("http://host:99999"), 0);
    EXPECT_EQ(fleet::url_port("no url"), 0);
}

} // namespace
