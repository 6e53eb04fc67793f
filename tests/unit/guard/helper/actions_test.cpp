#include <gtest/gtest.h>

#include "guard/helper/actions.hpp"
#include "guard/helper/policy.hpp"
#include "guard/helper/transaction.hpp"

namespace fleet {
namespace {

HelperPolicy policy() {
    Result<HelperPolicy> parsed = parse_policy(
        "systemctl = \"/opt/bin/systemctl\"\napt_get = \"/opt/bin/apt-get\"\n", "/etc/p.toml");
    EXPECT_TRUE(parsed) << parsed.error().message;
    return *parsed;
}

Request request(Command command, std::string action, std::string name = "") {
    return Request{command, std::move(action), std::move(name), {}, {}};
}

TEST(HelperActions, BuildsFixedArgvWithDoubleDash) {
    const HelperPolicy p = policy();
    EXPECT_EQ(
        action_argv(p, request(Command::service, "restart", "nginx")),
        (std::vector<std::string>{"/opt/bin/systemctl", "--no-pager", "restart", "--", "nginx"}));
    EXPECT_EQ(action_argv(p, request(Command::package, "install", "htop")),
              (std::vector<std::string>{
                  "/opt/bin/apt-get", "-y", "--no-remove", "-o", "Dpkg::Options::=--force-confdef",
                  "-o", "Dpkg::Options::=--force-confold", "install", "--", "htop"}));
    EXPECT_EQ(action_argv(p, request(Command::package, "remove", "htop")),
              (std::vector<std::string>{"/opt/bin/apt-get", "-y", "remove", "--", "htop"}));
    EXPECT_EQ(action_argv(p, request(Command::package, "update")),
              (std::vector<std::string>{"/opt/bin/apt-get", "-y", "update"}));
    // Every transaction but update is simulated first (transaction.hpp).
    EXPECT_EQ(simulation_argv(p, request(Command::package, "install", "htop")),
              (std::vector<std::string>{"/opt/bin/apt-get", "-s", "--no-remove", "install", "--",
                                        "htop"}));
    EXPECT_EQ(simulation_argv(p, request(Command::package, "upgrade")),
              (std::vector<std::string>{"/opt/bin/apt-get", "-s", "upgrade"}));
    EXPECT_TRUE(simulation_argv(p, request(Command::package, "update")).empty());
}

} // namespace
} // namespace fleet
