#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "guard/helper/policy.hpp"

namespace fleet {
namespace {

constexpr const char* k_policy = R"(
systemctl = "/opt/bin/systemctl"
apt_get = "/opt/bin/apt-get"
timeout = "2m"
grace = "5s"
audit_log = "/var/log/x/helper.log"
protected_services = ["postgresql"]
protected_packages = ["nginx"]
[services]
nginx = ["status", "restart", "stop"]
ssh = ["status", "stop", "restart"]
postgresql = ["stop", "start"]
"app@1.service" = ["start"]
[packages]
htop = ["install", "remove"]
nginx = ["remove"]
sudo = ["remove", "install"]
[apt]
actions = ["update"]
[totp]
secret = "/etc/x/totp"
state = "/var/lib/x/state.json"
service = ["stop"]
package = ["install"]
)";

HelperPolicy policy() {
    Result<HelperPolicy> parsed = parse_policy(k_policy, "/etc/p.toml");
    EXPECT_TRUE(parsed) << parsed.error().message;
    return *parsed;
}

Request request(Command command, std::string action, std::string name = "") {
    Request r;
    r.command = command;
    r.action = std::move(action);
    r.name = std::move(name);
    return r;
}

TEST(HelperPolicy, ParsesEveryKey) {
    const HelperPolicy p = policy();
    EXPECT_EQ(p.systemctl, "/opt/bin/systemctl");
    EXPECT_EQ(p.apt_get, "/opt/bin/apt-get");
    EXPECT_EQ(p.timeout, std::chrono::minutes(2));
    EXPECT_EQ(p.grace, std::chrono::seconds(5));
    EXPECT_EQ(p.audit_log, "/var/log/x/helper.log");
    EXPECT_EQ(p.services.at("nginx"), (std::set<std::string>{"status", "restart", "stop"}));
    EXPECT_EQ(p.packages.at("htop"), (std::set<std::string>{"install", "remove"}));
    EXPECT_EQ(p.apt_actions, (std::set<std::string>{"update"}));
    EXPECT_EQ(p.totp_secret, "/etc/x/totp");
    EXPECT_EQ(p.totp_state, "/var/lib/x/state.json");
    EXPECT_EQ(p.totp_service_actions, (std::set<std::string>{"stop"}));
    EXPECT_EQ(p.totp_package_actions, (std::set<std::string>{"install"}));
    EXPECT_TRUE(p.protected_services.count("postgresql"));
    EXPECT_TRUE(p.protected_services.count("ssh")); // built in, always
    EXPECT_TRUE(p.protected_packages.count("sudo"));
}

TEST(HelperPolicy, AnEmptyPolicyAllowsNothing) {
    Result<HelperPolicy> empty = parse_policy("", "/p");
    ASSERT_TRUE(empty);
    EXPECT_FALSE(decide(*empty, request(Command::service, "status", "nginx")).allowed);
    EXPECT_FALSE(decide(*empty, request(Command::package, "update")).allowed);
}

TEST(HelperPolicy, RefusesBadPolicies) {
    for (const char* text : {
             "unknown = 1",
             "systemctl = \"systemctl\"",
             "timeout = \"forever\"",
             "[services]\nnginx = [\"edit\"]",
             "[services]\n\"ngi*x\" = [\"start\"]",
             "[services]\n\"../x\" = [\"start\"]",
             "[services]\n\"-x\" = [\"start\"]",
             "[services]\nnginx = \"start\"",
             "[packages]\n\"./evil.deb\" = [\"install\"]",
             "[packages]\nhtop = [\"update\"]",
             "[apt]\nactions = [\"install\"]",
             "[apt]\nother = []",
             "[totp]\nservice = [\"explode\"]",
             "[totp]\nsecret = \"relative\"",
             "services = 1",
             "[services\n",
         }) {
        EXPECT_FALSE(parse_policy(text, "/p")) << text;
    }
}

TEST(HelperPolicy, AllowsListedActionsOnly) {
    const HelperPolicy p = policy();
    EXPECT_TRUE(decide(p, request(Command::service, "restart", "nginx")).allowed);
    EXPECT_TRUE(decide(p, request(Command::service, "start", "app@1.service")).allowed);
    const Ruling unlisted_action = decide(p, request(Command::service, "reload", "nginx"));
    EXPECT_FALSE(unlisted_action.allowed);
    EXPECT_EQ(unlisted_action.reason, "service reload is not allowed for 'nginx'");
    const Ruling unlisted = decide(p, request(Command::service, "status", "apache2"));
    EXPECT_FALSE(unlisted.allowed);
    EXPECT_EQ(unlisted.reason, "service 'apache2' is not allowed");
}

TEST(HelperPolicy, NamesMustMatchExactly) {
    const HelperPolicy p = policy();
    for (const char* name :
         {"nginx;id", "nginx ", " nginx", "NGINX", "nginx.service", "ngin*", "../../bin/sh",
          "/lib/systemd/system/nginx.service", "--help", "-nginx", "nginx\n", "app@1.service/"}) {
        EXPECT_FALSE(decide(p, request(Command::service, "restart", name)).allowed) << name;
    }
    EXPECT_TRUE(decide(p, request(Command::service, "restart", "nginx")).allowed);
}

TEST(HelperPolicy, ProtectedServicesAndPackagesWinOverTheAllowlist) {
    const HelperPolicy p = policy();
    const Ruling stop_ssh = decide(p, request(Command::service, "stop", "ssh"));
    EXPECT_FALSE(stop_ssh.allowed);
    EXPECT_NE(stop_ssh.reason.find("protected"), std::string::npos);
    EXPECT_TRUE(decide(p, request(Command::service, "restart", "ssh")).allowed); // control
    EXPECT_FALSE(decide(p, request(Command::service, "stop", "postgresql")).allowed);
    EXPECT_TRUE(decide(p, request(Command::service, "start", "postgresql")).allowed);
    EXPECT_FALSE(decide(p, request(Command::package, "remove", "sudo")).allowed);
    EXPECT_TRUE(decide(p, request(Command::package, "install", "sudo")).allowed);
    EXPECT_FALSE(decide(p, request(Command::package, "remove", "nginx")).allowed);
    EXPECT_TRUE(decide(p, request(Command::package, "remove", "htop")).allowed);
}

TEST(HelperPolicy, PackageNamesAndSystemActions) {
    const HelperPolicy p = policy();
    EXPECT_FALSE(decide(p, request(Command::package, "install", "./evil.deb")).allowed);
    EXPECT_FALSE(decide(p, request(Command::package, "install", "htop=1.0")).allowed);
    EXPECT_FALSE(decide(p, request(Command::package, "install", "-oAPT::x=1")).allowed);
    EXPECT_TRUE(decide(p, request(Command::package, "install", "htop")).allowed);
    EXPECT_TRUE(decide(p, request(Command::package, "update")).allowed);
    EXPECT_FALSE(decide(p, request(Command::package, "upgrade")).allowed);
}

TEST(HelperPolicy, SaysWhichActionsNeedTotp) {
    const HelperPolicy p = policy();
    EXPECT_TRUE(decide(p, request(Command::service, "stop", "nginx")).needs_totp);
    EXPECT_FALSE(decide(p, request(Command::service, "restart", "nginx")).needs_totp);
    EXPECT_TRUE(decide(p, request(Command::package, "install", "htop")).needs_totp);
    EXPECT_FALSE(decide(p, request(Command::package, "remove", "htop")).needs_totp);
}

TEST(HelperPolicy, ProtectedUnitsUnderEverySpelling) {
    const HelperPolicy policy = *parse_policy(k_policy, "test");
    for (const char* name :
         {"ssh", "ssh.service", "ssh.socket", "sshd.service", "ssh@192.0.2.1:22.service",
          "postgresql.service", "postgresql@15-main"}) {
        EXPECT_TRUE(is_protected_unit(policy, {name})) << name;
    }
    for (const char* name : {"nginx", "nginx.service", "sshguard.service", "ssh-agent.service"}) {
        EXPECT_FALSE(is_protected_unit(policy, {name})) << name;
    }
    EXPECT_TRUE(is_protected_unit(policy, {"remote-login.service", "ssh.service"}));
}

TEST(HelperPolicy, TheShippedExampleIsValidAndAllowsNothing) {
    std::ifstream file(std::string(FLEET_SOURCE_DIR) + "/deploy/etc/helper.toml");
    std::stringstream text;
    text << file.rdbuf();
    Result<HelperPolicy> example = parse_policy(text.str(), "deploy/etc/helper.toml");
    ASSERT_TRUE(example) << example.error().message;
    EXPECT_TRUE(example->services.empty());
    EXPECT_TRUE(example->packages.empty());
    EXPECT_TRUE(example->apt_actions.empty());
    EXPECT_EQ(example->totp_service_actions, HelperPolicy{}.totp_service_actions);
}

} // namespace
} // namespace fleet
