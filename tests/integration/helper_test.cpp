// Integration tests for fleet-helper, as root: real sudo and visudo, a real throwaway user,
// recording fakes in place of systemctl and apt-get (which cannot run here) that write down the
// argv, environment and working directory they were given. Every refusal has a control that is
// the same request without the hostile part. This file: ping, the service and package
// actions and what the policy refuses, trust in the policy and the executables, the
// environment, output and timeouts; TOTP and the audit log are in helper_totp_audit.cpp, real
// sudo in helper_sudo.cpp, the shared fixture in helper_fixture.hpp.
#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/helper_fixture.hpp"
#include "support/accounts.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

TEST_F(Helper, PingAnswersWithOneJsonObject) {
    const ProcessResult result = helper({"ping"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    const json reply = answer(result);
    EXPECT_EQ(reply["ok"], true);
    EXPECT_EQ(reply["pong"], true);
    EXPECT_EQ(reply["policy"], s_policy);
}

TEST_F(Helper, RunsEveryAllowedServiceActionWithFixedArgvEnvAndCwd) {
    for (const char* action : {"status", "start", "restart", "reload", "enable", "disable"}) {
        const ProcessResult result = helper({"service", action, "nginx"});
        ASSERT_EQ(result.exit_code, 0) << action << result.out << result.err;
        const json reply = answer(result);
        EXPECT_EQ(reply["ok"], true);
        EXPECT_EQ(reply["exit_code"], 0);
        EXPECT_EQ(reply["output"], std::string("done: --no-pager ") + action + " -- nginx\n");
        EXPECT_EQ(recorded_argv(), (std::vector<std::string>{fake("systemctl"), "--no-pager",
                                                             action, "--", "nginx"}));
    }
    EXPECT_EQ(read_file(fake("cwd")), "/\n");
}

TEST_F(Helper, RunsEveryAllowedPackageAction) {
    const std::string apt = fake("apt-get");
    const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
        {{"package", "install", "htop"},
         {apt, "-y", "--no-remove", "-o", "Dpkg::Options::=--force-confdef", "-o",
          "Dpkg::Options::=--force-confold", "install", "--", "htop"}},
        {{"package", "remove", "htop"}, {apt, "-y", "remove", "--", "htop"}},
        {{"package", "update"}, {apt, "-y", "update"}},
    };
    for (const auto& [request, argv] : cases) {
        const ProcessResult result = helper(request);
        EXPECT_EQ(result.exit_code, 0) << result.out;
        EXPECT_EQ(recorded_argv(), argv);
    }
    // Each transaction was simulated first; update changes no package and is not.
    EXPECT_EQ(lines_of(read_file(fake("queries"))),
              (std::vector<std::string>{apt, "-s", "--no-remove", "install", "--", "htop", apt,
                                        "-s", "remove", "--", "htop"}));
}

// What apt would remove besides the named package decides, not the name alone.
TEST_F(Helper, RefusesATransactionThatWouldRemoveMoreThanAsked) {
    write_file(fake("simulation"), "Inst x\nRemv htop [3.2.2-2]\nRemv libnl-3-200:amd64 [1]\n",
               0644);
    ProcessResult result = helper({"package", "remove", "htop"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(answer(result)["error"].get<std::string>().find("would also remove libnl-3-200"),
              std::string::npos)
        << result.out;
    EXPECT_FALSE(fs::exists(fake("argv"))) << "it ran";
    write_file(fake("simulation"), "Remv htop [3.2.2-2]\nRemv openssh-server [1:9.2]\n", 0644);
    result = helper({"package", "remove", "htop"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(answer(result)["error"].get<std::string>().find("would remove protected "
                                                              "openssh-server"),
              std::string::npos)
        << result.out;
    write_file(fake("simulation"), "Remv sudo [1.9.13]\nInst sudo-ldap\n", 0644);
    result = helper({"package", "install", "htop"}); // an install removes nothing at all
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_FALSE(fs::exists(fake("argv")));
    // A simulation too long to read whole is not judged on its first part.
    write_file(fake("simulation"), std::string(70000, '#') + "\nRemv openssh-server [1]\n", 0644);
    result = helper({"package", "remove", "htop"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.out.find("not judged"), std::string::npos) << result.out;
    write_file(fake("simulation"), "Remv htop [3.2.2-2]\n", 0644);
    EXPECT_EQ(helper({"package", "remove", "htop"}).exit_code, 0); // control: only htop
    EXPECT_TRUE(fs::exists(fake("argv")));
}

// Package actions run one at a time, from their simulation to their end: another helper's
// transaction cannot change what apt would remove in between. The lock is the audit log's.
TEST_F(Helper, PackageActionsWaitForEachOther) {
    write_policy("timeout = \"1s\"\n");
    const int log = open((s_root + "/log/helper.log").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    ASSERT_GE(log, 0);
    ASSERT_EQ(flock(log, LOCK_EX), 0); // as a helper in the middle of a transaction holds it
    ProcessResult result = helper({"package", "install", "htop"});
    EXPECT_EQ(result.exit_code, 2) << result.out;
    EXPECT_NE(result.out.find("another package action is still running"), std::string::npos)
        << result.out;
    EXPECT_FALSE(fs::exists(fake("argv")));
    EXPECT_EQ(helper({"service", "restart", "nginx"}).exit_code, 0); // services do not wait
    close(log);
    EXPECT_EQ(helper({"package", "install", "htop"}).exit_code, 0); // control: the lock is free
}

// A protected unit under another spelling: its type suffix, an instance, or an alias that only
// systemd knows (asked with systemctl show before anything is stopped).
TEST_F(Helper, ProtectedUnitsAreProtectedUnderEverySpelling) {
    std::string text = policy_text("");
    text.replace(text.find("[services]\n"), 11,
                 "[services]\n\"ssh.socket\" = [\"stop\"]\n\"sshd.service\" = [\"disable\"]\n"
                 "\"ssh@x.service\" = [\"stop\"]\nremote-login = [\"stop\"]\n");
    text.replace(text.find("service = [\"stop\"]"), 18, "service = []"); // no TOTP here
    write_file(s_policy, text, 0644);
    for (const auto& request :
         std::vector<std::vector<std::string>>{{"service", "stop", "ssh.socket"},
                                               {"service", "disable", "sshd.service"},
                                               {"service", "stop", "ssh@x.service"}}) {
        const ProcessResult result = helper(request);
        EXPECT_EQ(result.exit_code, 2) << request[2] << ": " << result.out;
        EXPECT_NE(result.out.find("protected"), std::string::npos) << result.out;
    }
    // An alias only systemd knows: remote-login.service is ssh.service here.
    write_file(fake("names"), "ssh.service\nssh.service remote-login.service\n", 0644);
    ProcessResult result = helper({"service", "stop", "remote-login"});
    EXPECT_EQ(result.exit_code, 2) << result.out;
    EXPECT_NE(answer(result)["error"].get<std::string>().find("protected (it is ssh.service)"),
              std::string::npos)
        << result.out;
    EXPECT_FALSE(fs::exists(fake("argv")));
    fs::remove(fake("names"));
    result = helper({"service", "stop", "remote-login"}); // control: a unit of its own
    EXPECT_EQ(result.exit_code, 0) << result.out;
    EXPECT_EQ(recorded_argv().back(), "remote-login");
}

// The same judgement against this host's real apt (a wrapper runs the real apt-get only for
// simulations, so nothing is ever installed or removed): openssh-client takes openssh-server
// with it; sudo-ldap replaces sudo.
TEST_F(Helper, RealAptSimulationsCatchWhatTheNameHides) {
    if (fleet::test::run({"dpkg-query", "-W", "openssh-server", "sudo"}).exit_code != 0 ||
        fleet::test::run({"apt-cache", "show", "sudo-ldap"}).exit_code != 0) {
        GTEST_SKIP() << "needs openssh-server and sudo installed and sudo-ldap known to apt";
    }
    const std::string wrapper = fake("real-apt-get");
    write_file(wrapper,
               "#!/bin/sh\ncase \" $* \" in *\" -s \"*) exec /usr/bin/apt-get \"$@\" ;; esac\n"
               "printf '%s\\n' \"$0\" \"$@\" > \"$(dirname \"$0\")/argv\"\n",
               0755);
    std::string text = policy_text("");
    text.replace(text.find(fake("apt-get")), fake("apt-get").size(), wrapper);
    text.replace(text.find("[packages]\n"), 11,
                 "[packages]\nopenssh-client = [\"remove\"]\nsudo-ldap = [\"install\"]\n");
    write_file(s_policy, text, 0644);
    ProcessResult result = helper({"package", "remove", "openssh-client"});
    EXPECT_EQ(result.exit_code, 2) << result.out;
    EXPECT_NE(result.out.find("openssh-server"), std::string::npos) << result.out;
    result = helper({"package", "install", "sudo-ldap"});
    EXPECT_EQ(result.exit_code, 2) << result.out;
    EXPECT_NE(result.out.find("remove is disabled"), std::string::npos) << result.out;
    EXPECT_FALSE(fs::exists(fake("argv"))) << "a transaction ran";
    result = helper({"package", "remove", "htop"}); // control: not installed, removes nothing
    EXPECT_EQ(result.exit_code, 0) << result.out;
    EXPECT_TRUE(fs::exists(fake("argv")));
    fs::remove(wrapper);
}

TEST_F(Helper, BuildsTheEnvironmentFromNothing) {
    RunOptions options;
    options.env = std::vector<std::string>{"PATH=/tmp/evil:/usr/bin",
                                           "SYSTEMD_PAGER=/bin/sh",
                                           "PAGER=sh",
                                           "LESSSECURE=0",
                                           "SYSTEMD_EDITOR=/bin/sh",
                                           "LD_LIBRARY_PATH=/tmp/evil",
                                           "DEBIAN_FRONTEND=dialog",
                                           "APT_CONFIG=/tmp/evil.conf",
                                           "SMUGGLED=1",
                                           "HOME=/root",
                                           "LANG=de_DE.UTF-8"};
    const ProcessResult result = helper({"service", "restart", "nginx"}, options);
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    std::vector<std::string> env = lines_of(read_file(fake("env")));
    std::erase_if(env, [](const std::string& line) { return line.rfind("PWD=", 0) == 0; });
    std::sort(env.begin(), env.end());
    EXPECT_EQ(
        env, (std::vector<std::string>{"DEBIAN_FRONTEND=noninteractive", "LANG=C.UTF-8",
                                       "LC_ALL=C.UTF-8", "LESSSECURE=1", "PAGER=cat",
                                       "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_COLORS=0",
                                       "SYSTEMD_PAGER=cat", "SYSTEMD_PAGERSECURE=1", "TERM=dumb"}));
}

// Each row: a refused request and its control, the same request without the hostile part.
TEST_F(Helper, RefusesWhatThePolicyDoesNotAllowWithAControlEach) {
    struct Case {
        std::vector<std::string> refused;
        int code;
        std::string error;
        std::vector<std::string> control;
    };
    const std::vector<Case> cases = {
        {{"service", "restart", "apache2"},
         2,
         "service 'apache2' is not allowed",
         {"service", "restart", "nginx"}},
        {{"service", "start", "nginx;id"},
         2,
         "not a valid unit name",
         {"service", "start", "nginx"}},
        {{"service", "start", "nginx\nid"},
         2,
         "not a valid unit name",
         {"service", "start", "nginx"}},
        {{"service", "start", "$(id)"}, 2, "not a valid unit name", {"service", "start", "nginx"}},
        {{"service", "start", "../../bin/sh"},
         2,
         "not a valid unit name",
         {"service", "start", "nginx"}},
        {{"service", "start", "/lib/systemd/system/nginx.service"},
         2,
         "not a valid unit name",
         {"service", "start", "nginx"}},
        {{"service", "start", "--help"}, 2, "not a valid unit name", {"service", "start", "nginx"}},
        {{"service", "start", "ngin*"}, 2, "not a valid unit name", {"service", "start", "nginx"}},
        {{"service", "stop", "ssh", "--totp", "123456"},
         2,
         "protected",
         {"service", "restart", "ssh"}},
        {{"service", "edit", "nginx"},
         4,
         "unknown service action 'edit'",
         {"service", "reload", "nginx"}},
        {{"package", "install", "./evil.deb"},
         2,
         "not a valid Debian package name",
         {"package", "install", "htop"}},
        {{"package", "install", "-oDpkg::Pre-Invoke::=id"},
         2,
         "not a valid Debian package name",
         {"package", "install", "htop"}},
        {{"package", "remove", "sudo"}, 2, "protected", {"package", "install", "sudo"}},
        {{"package", "install", "vim"},
         2,
         "package 'vim' is not allowed",
         {"package", "install", "htop"}},
    };
    for (const Case& c : cases) {
        fs::remove(fake("argv"));
        const ProcessResult refused = helper(c.refused);
        EXPECT_EQ(refused.exit_code, c.code) << c.refused[2] << refused.out;
        const json reply = answer(refused);
        EXPECT_EQ(reply["ok"], false);
        EXPECT_NE(reply.value("error", "").find(c.error), std::string::npos) << reply.dump();
        EXPECT_FALSE(fs::exists(fake("argv"))) << "ran for " << c.refused[2];
        const ProcessResult control = helper(c.control);
        EXPECT_EQ(control.exit_code, 0) << control.out;
        EXPECT_TRUE(fs::exists(fake("argv")));
    }
}

TEST_F(Helper, RefusesEverythingWhenThePolicyIsNotTrusted) {
    const std::string dir = s_root + "/policies";
    fs::create_directories(dir);
    const std::string policy = dir + "/helper.toml";
    write_file(policy, policy_text(""), 0644);
    const auto ping = [&] {
        return fleet::test::run({s_helper, "--policy", policy, "service", "status", "nginx"});
    };
    ASSERT_EQ(ping().exit_code, 0); // control

    chmod(policy.c_str(), 0664);
    ProcessResult result = ping();
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(answer(result)["error"].get<std::string>().find("too open (chmod go-w it)"),
              std::string::npos);
    chmod(policy.c_str(), 0644);

    Accounts accounts;
    const std::string owner = Accounts::unique_name("p");
    const uid_t uid = accounts.add_user(owner);
    ASSERT_EQ(chown(policy.c_str(), uid, 0), 0);
    EXPECT_EQ(ping().exit_code, 2);
    ASSERT_EQ(chown(policy.c_str(), 0, 0), 0);

    chmod(dir.c_str(), 0777);
    result = ping();
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(answer(result)["error"].get<std::string>().find("directory " + dir),
              std::string::npos);
    chmod(dir.c_str(), 01777); // sticky does not help, unlike dispatch's config
    EXPECT_EQ(ping().exit_code, 2);
    chmod(dir.c_str(), 0755);

    const std::string link = dir + "/link.toml";
    fs::create_symlink(policy, link);
    EXPECT_EQ(fleet::test::run({s_helper, "--policy", link, "ping"}).exit_code, 2);
    EXPECT_EQ(fleet::test::run({s_helper, "--policy", dir + "/missing.toml", "ping"}).exit_code, 2);
    write_file(policy, policy_text("unknown_key = 1\n"), 0644);
    EXPECT_EQ(ping().exit_code, 2);
    write_file(policy, policy_text(""), 0644);
    EXPECT_EQ(ping().exit_code, 0);
}

TEST_F(Helper, RefusesAnExecutableOthersCouldReplace) {
    chmod(fake("systemctl").c_str(), 0775);
    const ProcessResult result = helper({"service", "status", "nginx"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(answer(result)["error"].get<std::string>().find("too open (chmod go-w it)"),
              std::string::npos);
    EXPECT_FALSE(fs::exists(fake("argv")));
    chmod(fake("systemctl").c_str(), 0755);
    EXPECT_EQ(helper({"service", "status", "nginx"}).exit_code, 0);
}

TEST_F(Helper, ReportsAFailedActionWithItsOutput) {
    write_file(fake("mode"), "fail", 0644);
    const ProcessResult result = helper({"service", "restart", "nginx"});
    EXPECT_EQ(result.exit_code, 1);
    const json reply = answer(result);
    EXPECT_EQ(reply["ok"], false);
    EXPECT_EQ(reply["exit_code"], 5);
    EXPECT_EQ(reply["error"], "systemctl exited with status 5");
    EXPECT_NE(reply["output"].get<std::string>().find("Unit nginx.service not found"),
              std::string::npos);
}

TEST_F(Helper, CapsAndEscapesOutput) {
    write_file(fake("mode"), "big", 0644);
    json reply = answer(helper({"service", "status", "nginx"}));
    EXPECT_EQ(reply["truncated"], true);
    EXPECT_EQ(reply["output"].get<std::string>().size(), 64U * 1024);

    write_file(fake("mode"), "escape", 0644);
    const ProcessResult result = helper({"service", "status", "nginx"});
    EXPECT_EQ(result.out.find('\x1b'), std::string::npos);
    reply = answer(result);
    EXPECT_EQ(reply["output"], "red \\x1b[31mtext\\x1b[0m \\xff\\xfe bell\\x07\n");
    EXPECT_EQ(reply["truncated"], false);
}

TEST_F(Helper, TimesOutWithTermThenKillAndLeavesNothingBehind) {
    write_policy("timeout = \"1s\"\ngrace = \"1s\"\n");
    write_file(fake("mode"), "hang", 0644);
    const auto started = std::chrono::steady_clock::now();
    const ProcessResult result = helper({"service", "restart", "nginx"});
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(result.exit_code, 1);
    const json reply = answer(result);
    EXPECT_EQ(reply["timed_out"], true);
    EXPECT_EQ(reply["error"], "systemctl did not finish within 1s");
    EXPECT_GE(took, std::chrono::seconds(2)); // TERM was ignored; KILL came after the grace
    const pid_t shell = std::stoi(read_file(fake("hang.pid")));
    const pid_t sleeper = std::stoi(read_file(fake("sleep.pid")));
    EXPECT_FALSE(alive(shell));
    EXPECT_FALSE(alive(sleeper));
}

} // namespace
