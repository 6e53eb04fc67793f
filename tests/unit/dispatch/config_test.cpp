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

TEST(IsValidName, LowercaseFileSafeNames) {
    EXPECT_TRUE(fleet::is_valid_name("claude"));
    EXPECT_TRUE(fleet::is_valid_name("gpt-5_mini"));
    for (const char* name : {"", "Claude", "-x", "_x", "a/b", "a.b", "..", "a b"}) {
        EXPECT_FALSE(fleet::is_valid_name(name)) << name;
    }
}

} // namespace
