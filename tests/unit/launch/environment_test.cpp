#include <gtest/gtest.h>

#include "launch/environment.hpp"

namespace {

fleet::Identity alice() {
    fleet::Identity identity;
    identity.uid = 1500;
    identity.gid = 1500;
    identity.name = "alice";
    identity.home = "/home/alice";
    identity.shell = "/bin/bash";
    return identity;
}

TEST(BuildEnvironment, KeepsOnlyTheAllowlist) {
    const char* caller[] = {
        "HOME=/root", "LD_PRELOAD=/evil.so", "TERM=xterm",  "LC_CTYPE=C", "TZ=UTC", "LANG=C.UTF-8",
        "FOO=bar",    "NODE_OPTIONS=--x",    "LANGUAGE=de", "noequals",   nullptr};
    const auto env = fleet::build_environment(alice(), caller, {});
    ASSERT_TRUE(env.ok());
    const std::vector<std::string> expected = {
        "HOME=/home/alice",
        "LANG=C.UTF-8",
        "LC_CTYPE=C",
        "LOGNAME=alice",
        "PATH=/home/alice/.local/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
        "SHELL=/bin/bash",
        "TERM=xterm",
        "TZ=UTC",
        "USER=alice"};
    EXPECT_EQ(*env, expected);
}

TEST(BuildEnvironment, PassAndSetAddWhatTheyName) {
    const char* caller[] = {"FOO=bar", "FOO=shadowed", "HOME=/root", nullptr};
    fleet::EnvironmentRequest request;
    request.pass = {"FOO", "UNSET_VAR"};
    request.set = {{"PATH", "/opt/bin"}, {"API_URL", "http://127.0.0.1:1"}};
    const auto env = fleet::build_environment(alice(), caller, request);
    ASSERT_TRUE(env.ok());
    const std::vector<std::string> expected = {"API_URL=http://127.0.0.1:1",
                                               "FOO=bar",
                                               "HOME=/home/alice",
                                               "LOGNAME=alice",
                                               "PATH=/opt/bin",
                                               "SHELL=/bin/bash",
                                               "USER=alice"};
    EXPECT_EQ(*env, expected);
}

TEST(BuildEnvironment, RefusesInvalidNames) {
    fleet::EnvironmentRequest request;
    request.pass = {"BAD-NAME"};
    EXPECT_FALSE(fleet::build_environment(alice(), nullptr, request).ok());
    fleet::EnvironmentRequest set;
    set.set = {{"1X", "y"}};
    EXPECT_FALSE(fleet::build_environment(alice(), nullptr, set).ok());
}

TEST(ParseEnvAssignment, SplitsAtTheFirstEquals) {
    const auto parsed = fleet::parse_env_assignment("A=b=c");
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->first, "A");
    EXPECT_EQ(parsed->second, "b=c");
    EXPECT_TRUE(fleet::parse_env_assignment("EMPTY=").ok());
    EXPECT_FALSE(fleet::parse_env_assignment("NOEQUALS").ok());
    EXPECT_FALSE(fleet::parse_env_assignment("=value").ok());
}

TEST(IsValidEnvName, FollowsThePosixShape) {
    EXPECT_TRUE(fleet::is_valid_env_name("_A1"));
    EXPECT_FALSE(fleet::is_valid_env_name(""));
    EXPECT_FALSE(fleet::is_valid_env_name("1A"));
    EXPECT_FALSE(fleet::is_valid_env_name("A B"));
}

} // namespace
