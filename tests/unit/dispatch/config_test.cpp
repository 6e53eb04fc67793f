#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "dispatch/config.hpp"

namespace {

TEST(ParseConfig, EmptyMeansBuiltInDefaults) {
    const auto config = fleet::parse_config("", "test");
    ASSERT_TRUE(config.ok());
    EXPECT_EQ(config->user, "ubuntu");
    EXPECT_EQ(config->max_parallel, 4U);
    EXPECT_EQ(config->timeout, std::chrono::hours(1));
    EXPECT_EQ(config->grace, std::chrono::seconds(10));
    EXPECT_TRUE(config->no_new_privs);
    EXPECT_EQ(config->tasks.count("run"), 1U);
}

TEST(ParseConfig, ReadsEveryKey) {
    const auto config = fleet::parse_config(R"(
user = "agent"
runs_dir = "/srv/runs"
default_agent = "x"
max_parallel = 8
timeout = "2h"
grace = "5s"
no_new_privs = false
[agents.x]
command = ["/usr/bin/x", "--prompt", "{prompt}"]
stdin = "prompt"
env = { API_URL = "http://127.0.0.1:9" }
timeout = "30m"
workdir = "/srv/repo"
[tasks.review]
template = "Review: {prompt}"
)",
                                            "test");
    ASSERT_TRUE(config.ok()) << config.error().message;
    EXPECT_EQ(config->user, "agent");
    EXPECT_EQ(config->runs_dir, "/srv/runs");
    EXPECT_EQ(config->max_parallel, 8U);
    EXPECT_FALSE(config->no_new_privs);
    const fleet::AgentConfig& x = config->agents.at("x");
    EXPECT_EQ(x.command.size(), 3U);
    EXPECT_TRUE(x.stdin_prompt);
    EXPECT_EQ(x.env.at(0).first, "API_URL");
    EXPECT_EQ(x.timeout, std::chrono::minutes(30));
    EXPECT_EQ(x.workdir, "/srv/repo");
    EXPECT_EQ(config->tasks.at("review").template_text, "Review: {prompt}");
}

TEST(ParseConfig, ErrorsNameTheKey) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"usr = \"x\"", "usr: unknown key"},
        {"max_parallel = 0", "max_parallel"},
        {"no_new_privs = \"yes\"", "no_new_privs"},
        {"runs_dir = \"relative\"", "runs_dir"},
        {"[agents.x]\ncommand = [\"x\"]\nbogus = 1", "agents.x.bogus"},
        {"[agents.x]\ncommand = [\"{prompt}\"]", "agents.x.command"},
        {"[agents.x]\ncommand = [\"x\"]\nenv = { \"BAD-NAME\" = \"v\" }", "agents.x.env.BAD-NAME"},
        {"[agents.x]\ncommand = [\"x\"]\nworkdir = \"rel\"", "agents.x.workdir"},
        {"[tasks.t]\ntemplate = \"{other}\"", "tasks.t.template"},
        {"[tasks.status]\ntemplate = \"{prompt}\"", "tasks.status"},
    };
    for (const auto& [text, expected] : cases) {
        const auto config = fleet::parse_config(text, "cfg");
        ASSERT_FALSE(config.ok()) << text;
        EXPECT_NE(config.error().message.find(expected), std::string::npos)
            << text << " -> " << config.error().message;
    }
}

// What `dispatch prune` alone (the prune timer) removes: unset by default, then nothing.
TEST(ParseConfig, PruneOlderThanIsADurationOrUnset) {
    EXPECT_FALSE(fleet::parse_config("", "test")->prune_older_than);
    const auto config = fleet::parse_config("prune_older_than = \"30d\"", "test");
    ASSERT_TRUE(config.ok()) << config.error().message;
    EXPECT_EQ(config->prune_older_than, std::chrono::hours(24 * 30));
    for (const char* bad : {"prune_older_than = \"\"", "prune_older_than = \"0s\"",
                            "prune_older_than = 30", "prune_older_than = \"30 days\"",
                            "prune_older_than = \"400d\"", "prune_older_than = true"}) {
        const auto refused = fleet::parse_config(bad, "cfg");
        ASSERT_FALSE(refused.ok()) << bad;
        EXPECT_NE(refused.error().message.find("prune_older_than"), std::string::npos)
            << bad << " -> " << refused.error().message;
    }
}

TEST(IsValidName, LowercaseFileSafeNames) {
    EXPECT_TRUE(fleet::is_valid_name("claude"));
    EXPECT_TRUE(fleet::is_valid_name("gpt-5_mini"));
    for (const char* name : {"", "Claude", "-x", "_x", "a/b", "a.b", "..", "a b"}) {
        EXPECT_FALSE(fleet::is_valid_name(name)) << name;
    }
}

} // namespace

namespace {

TEST(ParseConfig, LimitsTheRunsAndEachAgents) {
    const auto config = fleet::parse_config(R"(
limits = "required"
memory_max = "4G"
pids_max = 1000
cpu_max = 1.5
oom_score_adj = 800
[agents.x]
command = ["/usr/bin/x"]
memory_max = 536870912
cpu_max = 1
)",
                                            "test");
    ASSERT_TRUE(config.ok()) << config.error().message;
    EXPECT_EQ(config->limits, fleet::LimitsMode::required);
    EXPECT_EQ(config->run_limits.memory_max, uint64_t{4} << 30);
    EXPECT_EQ(config->run_limits.pids_max, 1000U);
    EXPECT_EQ(config->run_limits.cpu_max, 1.5);
    EXPECT_EQ(config->oom_score_adj, 800);
    const fleet::AgentConfig& x = config->agents.at("x");
    EXPECT_EQ(x.limits.memory_max, uint64_t{512} << 20);
    EXPECT_EQ(x.limits.cpu_max, 1.0);
    EXPECT_FALSE(x.limits.pids_max);
}

TEST(ParseConfig, LimitErrorsNameTheKey) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"memory_max = \"2 gigs\"", "memory_max: '2 gigs' is no memory size"},
        {"memory_max = \"1M\"", "memory_max: 1 MiB is below 4 MiB"},
        {"memory_max = -5", "memory_max: must be a size"},
        {"pids_max = 0", "pids_max"},
        {"pids_max = 5000000", "pids_max"},
        {"cpu_max = 0", "cpu_max: must be a number of CPUs"},
        {"cpu_max = 2000", "cpu_max"},
        {"oom_score_adj = 1001", "oom_score_adj"},
        {"limits = \"yes\"", "limits: must be \"auto\", \"required\" or \"off\""},
        {"memory_max = \"1G\"\n[agents.x]\ncommand = [\"x\"]\nmemory_max = \"2G\"",
         "agents.x.memory_max: 2 GiB is above the run's memory_max (1 GiB)"},
        {"pids_max = 10\n[agents.x]\ncommand = [\"x\"]\npids_max = 11",
         "agents.x.pids_max: 11 is above the run's pids_max (10)"},
        {"cpu_max = 1\n[agents.x]\ncommand = [\"x\"]\ncpu_max = 2", "agents.x.cpu_max"},
        {"[agents.claude]\nmemory_max = \"lots\"", "agents.claude.memory_max"},
    };
    for (const auto& [text, expected] : cases) {
        const auto config = fleet::parse_config(text, "cfg");
        ASSERT_FALSE(config.ok()) << text;
        EXPECT_NE(config.error().message.find(expected), std::string::npos)
            << text << " -> " << config.error().message;
    }
    // The control: the same keys within range.
    EXPECT_TRUE(fleet::parse_config("memory_max = \"1G\"\npids_max = 10\ncpu_max = 1\n"
                                    "[agents.x]\ncommand = [\"x\"]\nmemory_max = \"1G\"\n"
                                    "pids_max = 10\ncpu_max = 0.5",
                                    "cfg")
                    .ok());
}

TEST(PlanLimits, FillsTheDefaults) {
    const auto config = fleet::parse_config(
        "[agents.x]\ncommand = [\"x\"]\npids_max = 64\n[agents.y]\ncommand = [\"y\"]\n", "test");
    ASSERT_TRUE(config.ok());
    const fleet::CgroupRequest request =
        fleet::plan_limits(*config, {"x", "y"}, uint64_t{16} << 30);
    EXPECT_EQ(request.run.memory_max, uint64_t{12} << 30); // 3/4 of the host's
    EXPECT_EQ(request.run.pids_max, fleet::k_default_run_pids_max);
    EXPECT_FALSE(request.run.cpu_max);
    EXPECT_EQ(request.oom_score_adj, fleet::k_default_oom_score_adj);
    ASSERT_EQ(request.agents.size(), 2U);
    EXPECT_EQ(request.agents[0].limits.pids_max, 64U);
    EXPECT_EQ(request.agents[1].limits.pids_max, fleet::k_default_agent_pids_max);
    EXPECT_FALSE(request.agents[1].limits.memory_max); // the run's bounds it
}

// A scratch directory for load_config: root's (the tests run as root), 0755, removed after.
class LoadConfig : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/fl-config.XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        m_dir = pattern;
        ASSERT_EQ(::chmod(m_dir.c_str(), 0755), 0);
        std::filesystem::create_directory(m_dir + "/config.d");
    }
    void TearDown() override { std::filesystem::remove_all(m_dir); }

    void write(const std::string& name, const std::string& text, mode_t mode = 0644) const {
        const std::string path = m_dir + "/" + name;
        std::ofstream(path) << text;
        ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    }
    fleet::Result<fleet::Config> load() const {
        return fleet::load_config(m_dir + "/config.toml", /*as_root=*/true);
    }

    std::string m_dir;
};

TEST_F(LoadConfig, DropInsMergeInNameOrderOverTheFile) {
    write("config.toml", "user = \"a\"\ntimeout = \"2h\"\nunified = [\"claude\", \"codex\"]\n"
                         "[agents.claude]\nmemory_max = \"1G\"\n");
    write("config.d/20-late.toml", "user = \"c\"\nunified = [\"gemini\"]\n");
    write("config.d/10-early.toml", "user = \"b\"\n[agents.claude]\npids_max = 100\n");
    // Not drop-ins, and never read: their text is no TOML.
    for (const char* name : {"config.d/notes.txt", "config.d/30.toml~", "config.d/.hidden.toml",
                             "config.d/40.toml.dpkg-old"}) {
        write(name, "this is = = not toml");
    }
    const auto config = load();
    ASSERT_TRUE(config.ok()) << config.error().message;
    EXPECT_EQ(config->user, "c");
    EXPECT_EQ(config->timeout, std::chrono::hours(2));
    EXPECT_EQ(config->unified, std::vector<std::string>{"gemini"}); // arrays are replaced
    const fleet::AgentConfig& claude = config->agents.at("claude"); // tables are merged
    EXPECT_EQ(claude.limits.memory_max, uint64_t{1} << 30);
    EXPECT_EQ(claude.limits.pids_max, 100U);
    EXPECT_EQ(config->source, m_dir + "/config.toml");
    EXPECT_EQ(config->drop_ins, (std::vector<std::string>{m_dir + "/config.d/10-early.toml",
                                                          m_dir + "/config.d/20-late.toml"}));
}

TEST_F(LoadConfig, AnErrorNamesTheFileItsKeyCameFrom) {
    write("config.toml", "user = \"a\"\n");
    write("config.d/50-role.toml", "max_parallel = \"many\"\n");
    auto config = load();
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.error().message, "config " + m_dir +
                                          "/config.d/50-role.toml: max_parallel: must be an "
                                          "integer from 1 to 1024");
    write("config.d/50-role.toml", "[agents.claude]\nmemroy_max = \"1G\"\n");
    config = load();
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.error().message,
              "config " + m_dir + "/config.d/50-role.toml: agents.claude.memroy_max: unknown key");
    write("config.d/50-role.toml", "user = \n");
    config = load();
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.error().message.rfind("config " + m_dir + "/config.d/50-role.toml:1:", 0), 0U)
        << config.error().message;
    // Control: the main file's own error names the main file.
    write("config.d/50-role.toml", "user = \"b\"\n");
    write("config.toml", "grace = 5\n");
    config = load();
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.error().message, "config " + m_dir + "/config.toml: grace: must be a string");
}

TEST_F(LoadConfig, AsRootADropInOthersCouldWriteRefusesTheWholeConfig) {
    write("config.toml", "user = \"a\"\n");
    write("config.d/50-role.toml", "user = \"b\"\n", 0666);
    auto config = load();
    ASSERT_FALSE(config.ok());
    EXPECT_NE(config.error().message.find("50-role.toml"), std::string::npos)
        << config.error().message;
    ASSERT_EQ(::chmod((m_dir + "/config.d/50-role.toml").c_str(), 0644), 0);
    ASSERT_EQ(::chmod((m_dir + "/config.d").c_str(), 0777), 0);
    config = load();
    ASSERT_FALSE(config.ok());
    EXPECT_NE(config.error().message.find("config.d"), std::string::npos) << config.error().message;
    // Control: root's, and no one else may write it or its directory.
    ASSERT_EQ(::chmod((m_dir + "/config.d").c_str(), 0755), 0);
    config = load();
    ASSERT_TRUE(config.ok()) << config.error().message;
    EXPECT_EQ(config->user, "b");
}

// What earlier releases shipped and their set-up wrote (tests/data/previous/) loads as it is.
TEST(LoadConfigOfEarlierReleases, StillLoads) {
    for (const char* name :
         {"config-0.1.0.toml", "config-0.1.0-setup.toml", "config-0.1.0-ansible.toml"}) {
        const std::string path = std::string(FLEET_SOURCE_DIR) + "/tests/data/previous/" + name;
        const auto config = fleet::load_config(path, /*as_root=*/false);
        EXPECT_TRUE(config.ok()) << path << ": " << config.error().message;
    }
}

} // namespace
