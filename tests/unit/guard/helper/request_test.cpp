#include <gtest/gtest.h>

#include "base/untrusted_text.hpp"
#include "guard/common/json_line.hpp"
#include "guard/helper/request.hpp"

namespace fleet {
namespace {

Result<Request> parse(const std::vector<std::string>& args) {
    return parse_request(args);
}

TEST(HelperRequest, ParsesServiceRequests) {
    Result<Request> request = parse({"service", "restart", "nginx"});
    ASSERT_TRUE(request) << request.error().message;
    EXPECT_EQ(request->command, Command::service);
    EXPECT_EQ(request->action, "restart");
    EXPECT_EQ(request->name, "nginx");
    EXPECT_FALSE(request->totp);

    request = parse({"service", "stop", "nginx", "--totp", "123456"});
    ASSERT_TRUE(request);
    EXPECT_EQ(*request->totp, "123456");
    request = parse({"service", "stop", "nginx", "--totp=654321"});
    ASSERT_TRUE(request);
    EXPECT_EQ(*request->totp, "654321");
}

TEST(HelperRequest, NamesAreTakenAsGivenForThePolicyToJudge) {
    for (const char* name : {"nginx;id", "../../bin/sh", "--help", "-x", "/etc/x.service", ""}) {
        Result<Request> request = parse({"service", "start", name});
        ASSERT_TRUE(request) << name;
        EXPECT_EQ(request->name, name);
    }
}

TEST(HelperRequest, ParsesPackageRequests) {
    Result<Request> request = parse({"package", "install", "htop"});
    ASSERT_TRUE(request);
    EXPECT_EQ(request->name, "htop");
    request = parse({"package", "update"});
    ASSERT_TRUE(request);
    EXPECT_EQ(request->action, "update");
    EXPECT_TRUE(request->name.empty());
    request = parse({"package", "upgrade", "--totp", "000000"});
    ASSERT_TRUE(request);
    EXPECT_EQ(*request->totp, "000000");
}

TEST(HelperRequest, ParsesTheOtherCommands) {
    EXPECT_EQ(parse({"ping"})->command, Command::ping);
    EXPECT_EQ(parse({"policy"})->command, Command::policy);
    EXPECT_EQ(parse({"--help"})->command, Command::help);
    EXPECT_EQ(parse({"--version"})->command, Command::version);
    // Root's set-up verbs are fleet-admin's: the helper, which agents reach, does not take them.
    for (const std::vector<std::string>& admin :
         {std::vector<std::string>{"totp", "enroll"}, {"install-sudoers", "--user", "ubuntu"}}) {
        const Result<Request> refused = parse(admin);
        ASSERT_FALSE(refused);
        EXPECT_NE(refused.error().message.find("is fleet-admin's"), std::string::npos);
    }
    Result<Request> policy = parse({"--policy", "/srv/p.toml", "ping"});
    ASSERT_TRUE(policy);
    EXPECT_EQ(*policy->policy, "/srv/p.toml");
    EXPECT_EQ(parse({"--policy=/srv/p.toml", "ping"})->policy, "/srv/p.toml");
}

// Each malformed request is a usage error; the control beside it is the same shape, well formed.
TEST(HelperRequest, RefusesMalformedRequestsWithAControlEach) {
    const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
        {{}, {"ping"}},
        {{"servic", "start", "nginx"}, {"service", "start", "nginx"}},
        {{"service", "edit", "nginx"}, {"service", "start", "nginx"}},
        {{"service", "set-environment", "X=1"}, {"service", "status", "X"}},
        {{"service", "--no-block", "start", "nginx"}, {"service", "start", "nginx"}},
        {{"service", "start"}, {"service", "start", "nginx"}},
        {{"service", "start", "nginx", "extra"}, {"service", "start", "nginx"}},
        {{"service", "start", "nginx", "--tot", "123456"},
         {"service", "start", "nginx", "--totp", "123456"}},
        {{"service", "start", "nginx", "--totp"}, {"service", "start", "nginx", "--totp", "1"}},
        {{"service", "start", "nginx", "--totp", "1", "x"},
         {"service", "start", "nginx", "--totp", "1"}},
        {{"package", "install"}, {"package", "install", "htop"}},
        {{"package", "update", "htop"}, {"package", "update"}},
        {{"package", "autoremove"}, {"package", "update"}},
        {{"ping", "x"}, {"ping"}},
        {{"--policy", "relative.toml", "ping"}, {"--policy", "/abs.toml", "ping"}},
        {{"--policy"}, {"--policy", "/abs.toml", "ping"}},
        {{"ping", "--policy", "/abs.toml"}, {"--policy", "/abs.toml", "ping"}},
        {{"--polic", "/abs.toml", "ping"}, {"--policy", "/abs.toml", "ping"}},
        {{"--help", "x"}, {"--help"}},
        {{"-v"}, {"--version"}},
    };
    for (const auto& [bad, good] : cases) {
        std::string shown;
        for (const std::string& word : bad) {
            shown += "[" + word + "]";
        }
        Result<Request> refused = parse(bad);
        EXPECT_FALSE(refused) << shown;
        if (!refused) {
            EXPECT_EQ(refused.error().kind, ErrorKind::invalid_input) << shown;
        }
        EXPECT_TRUE(parse(good)) << shown;
    }
}

TEST(HelperRequest, BoundsTheRequestSize) {
    EXPECT_FALSE(parse({"service", "start", std::string(4097, 'a')}));
    EXPECT_TRUE(parse({"service", "start", std::string(4096, 'a')}));
    std::vector<std::string> many(17, "x");
    EXPECT_FALSE(parse(many));
}

TEST(HelperRequest, JsonNeverShowsTheCodeAndEscapesNames) {
    Result<Request> request = parse({"service", "stop", "a\x1b[2Jb\xff", "--totp", "123456"});
    ASSERT_TRUE(request);
    const nlohmann::json json = request_json(*request);
    EXPECT_EQ(json["totp"], "given");
    EXPECT_EQ(json["name"], "a\\x1b[2Jb\\xff");
    EXPECT_EQ(json_line(json).find("123456"), std::string::npos);
}

} // namespace
} // namespace fleet
