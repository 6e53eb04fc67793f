// Integration tests for fleet-helper, as root: real sudo and visudo, a real throwaway user,
// recording fakes in place of systemctl and apt-get (which cannot run here) that write down the
// argv, environment and working directory they were given. Every refusal has a control that is
// the same request without the hostile part.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <liboath/oath.h>
#include <sstream>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/accounts.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using fleet::test::Accounts;
using fleet::test::alive;
using fleet::test::lines_of;
using fleet::test::ProcessResult;
using fleet::test::read_file;
using fleet::test::RunOptions;
using fleet::test::write_file;
using nlohmann::json;

namespace {

const std::string k_helper_build = FLEET_HELPER_PATH;
// Root's set-up verbs (the sudoers rule, TOTP enrolment) are fleet-admin's.
const std::string k_admin = FLEET_ADMIN_PATH;

// A fake systemctl/apt-get: records what it got, then behaves as ./mode says ("slow": a second,
// then a marker, as a systemctl that finishes what it was asked whatever happens to its caller).
// The questions the helper asks first (apt-get -s, systemctl show) are recorded in ./queries
// and answered from ./simulation and ./names (the unit's own name when there is none).
constexpr const char* k_recorder = R"(#!/bin/sh
here=$(dirname "$0")
for last; do :; done
case " $* " in
*" -s "*) printf '%s\n' "$0" "$@" >> "$here/queries"; cat "$here/simulation" 2>/dev/null; exit 0 ;;
*" show "*) printf '%s\n' "$0" "$@" >> "$here/queries"; cat "$here/names" 2>/dev/null || echo "$last"; exit 0 ;;
esac
printf '%s\n' "$0" "$@" > "$here/argv"
/usr/bin/env > "$here/env"
pwd > "$here/cwd"
mode=$(cat "$here/mode" 2>/dev/null || echo ok)
case "$mode" in
ok) echo "done: $*" ;;
fail) echo "Failed to restart nginx.service: Unit nginx.service not found." >&2; exit 5 ;;
big) head -c 200000 /dev/zero | tr '\0' 'x' ;;
escape) printf 'red \033[31mtext\033[0m \377\376 bell\007\n' ;;
hang) trap '' TERM; echo $$ > "$here/hang.pid"; sleep 300 & echo $! > "$here/sleep.pid"; wait ;;
slow) echo started > "$here/slow"; sleep 1; echo finished >> "$here/slow" ;;
esac
)";

std::string totp_now(const std::string& base32, time_t when) {
    char* secret = nullptr;
    size_t length = 0;
    EXPECT_EQ(oath_base32_decode(base32.data(), base32.size(), &secret, &length), OATH_OK);
    char code[8] = {};
    EXPECT_EQ(oath_totp_generate(secret, length, when, 30, 0, 6, code), OATH_OK);
    free(secret);
    return code;
}

class Helper : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ASSERT_EQ(oath_init(), OATH_OK);
        s_root = fleet::test::make_root_scratch("helper-test");
        fs::create_directories(s_root + "/bin");
        s_helper = s_root + "/bin/fleet-helper";
        fs::copy_file(k_helper_build, s_helper);
        chmod(s_helper.c_str(), 0755);
        fs::create_directories(s_root + "/fake");
        write_file(s_root + "/fake/systemctl", k_recorder, 0755);
        write_file(s_root + "/fake/apt-get", k_recorder, 0755);
    }

    static void TearDownTestSuite() { fs::remove_all(s_root); }

    void SetUp() override {
        for (const char* name : {"argv", "mode", "queries", "simulation", "names"}) {
            fs::remove(fake(name));
        }
        s_policy = s_root + "/helper.toml";
        write_policy("");
    }

    static std::string fake(const std::string& name) { return s_root + "/fake/" + name; }

    static std::string policy_text(const std::string& extra) {
        return "systemctl = \"" + fake("systemctl") + "\"\napt_get = \"" + fake("apt-get") +
               "\"\naudit_log = \"" + s_root + "/log/helper.log\"\n" + extra +
               "[services]\nnginx = [\"status\", \"start\", \"stop\", \"restart\", \"reload\", "
               "\"enable\", \"disable\"]\nssh = [\"status\", \"restart\", \"stop\"]\n"
               "[packages]\nhtop = [\"install\", \"remove\"]\nsudo = [\"install\", \"remove\"]\n"
               "[apt]\nactions = [\"update\", \"upgrade\"]\n"
               "[totp]\nsecret = \"" +
               s_root + "/secrets/totp\"\nstate = \"" + s_root +
               "/state/totp.json\"\nservice = [\"stop\"]\npackage = [\"upgrade\"]\n";
    }

    static void write_policy(const std::string& extra) {
        write_file(s_policy, policy_text(extra), 0644);
    }

    static ProcessResult helper(std::vector<std::string> args, const RunOptions& options = {}) {
        args.insert(args.begin(), {s_helper, "--policy", s_policy});
        return fleet::test::run(args, options);
    }

    static json answer(const ProcessResult& result) {
        const std::vector<std::string> lines = lines_of(result.out);
        EXPECT_EQ(lines.size(), 1U) << result.out << result.err;
        return lines.empty() ? json() : json::parse(lines[0]);
    }

    // The audit file's records: each request's "end" record, or with `all` every record ("start"
    // ones too: written before an action runs).
    static std::vector<json> audit_lines(bool all = false) {
        std::vector<json> lines;
        for (const std::string& line : lines_of(read_file(s_root + "/log/helper.log"))) {
            const json record = json::parse(line);
            if (all || record["phase"] == "end") {
                lines.push_back(record);
            }
        }
        return lines;
    }

    static std::vector<std::string> recorded_argv() { return lines_of(read_file(fake("argv"))); }

    static ProcessResult admin_enroll(bool force) {
        std::vector<std::string> argv{k_admin, "totp", "enroll", "--policy", s_policy};
        if (force) {
            argv.emplace_back("--force");
        }
        return fleet::test::run(argv);
    }

    static std::string enroll() {
        const ProcessResult result = admin_enroll(true);
        EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
        const size_t at = result.out.find("secret=");
        return result.out.substr(at + 7, result.out.find('&', at) - at - 7);
    }

    static inline std::string s_root;
    static inline std::string s_helper;
    static inline std::string s_policy;
};

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

TEST_F(Helper, TotpGatesDangerousActions) {
    const std::string secret = enroll();
    struct stat info {};
    ASSERT_EQ(stat((s_root + "/secrets/totp").c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0600U);
    EXPECT_EQ(info.st_uid, 0U);

    ProcessResult result = helper({"service", "stop", "nginx"});
    EXPECT_EQ(result.exit_code, 3);
    EXPECT_EQ(answer(result)["error"], "service stop needs a TOTP code (--totp CODE)");
    EXPECT_FALSE(fs::exists(fake("argv")));

    const time_t now = time(nullptr);
    const std::string code = totp_now(secret, now);
    const std::string wrong = code == "000000" ? "111111" : "000000";
    result = helper({"service", "stop", "nginx", "--totp", wrong});
    EXPECT_EQ(result.exit_code, 3);
    EXPECT_EQ(answer(result)["error"], "wrong TOTP code");
    result = helper({"service", "stop", "nginx", "--totp", code.substr(0, 5)});
    EXPECT_EQ(result.exit_code, 3);
    EXPECT_EQ(answer(result)["error"], "a TOTP code is exactly six digits");
    result = helper({"service", "stop", "nginx", "--totp", totp_now(secret, now - 120)});
    EXPECT_EQ(result.exit_code, 3);
    EXPECT_FALSE(fs::exists(fake("argv")));

    result = helper({"service", "stop", "nginx", "--totp", code});
    EXPECT_EQ(result.exit_code, 0) << result.out;
    EXPECT_TRUE(fs::exists(fake("argv")));
    EXPECT_EQ(audit_lines().back()["totp_counter"], static_cast<uint64_t>(now / 30));
    EXPECT_EQ(result.out.find(code), std::string::npos);
    EXPECT_EQ(read_file(s_root + "/log/helper.log").find(code), std::string::npos);

    fs::remove(fake("argv"));
    result = helper({"service", "stop", "nginx", "--totp", code});
    EXPECT_EQ(result.exit_code, 3);
    EXPECT_EQ(answer(result)["error"], "TOTP code already used: wait for the next one");
    EXPECT_FALSE(fs::exists(fake("argv")));

    // The next step's code is within the window, and newer: accepted.
    result = helper({"service", "stop", "nginx", "--totp", totp_now(secret, now + 30)});
    EXPECT_EQ(result.exit_code, 0) << result.out;

    // Actions the policy does not gate need no code.
    EXPECT_EQ(helper({"service", "restart", "nginx"}).exit_code, 0);
    ASSERT_EQ(stat((s_root + "/state/totp.json").c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0600U);
}

TEST_F(Helper, TotpLocksOutAfterFiveFailures) {
    const std::string secret = enroll();
    fs::remove(s_root + "/state/totp.json");
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(helper({"package", "upgrade", "--totp", "12345x"}).exit_code, 3);
    }
    const ProcessResult result =
        helper({"package", "upgrade", "--totp", totp_now(secret, time(nullptr))});
    EXPECT_EQ(result.exit_code, 3);
    EXPECT_NE(answer(result)["error"].get<std::string>().find("locked for another"),
              std::string::npos);
    EXPECT_FALSE(fs::exists(fake("argv")));
    fs::remove(s_root + "/state/totp.json"); // the operator's reset
    EXPECT_EQ(helper({"package", "upgrade", "--totp", totp_now(secret, time(nullptr))}).exit_code,
              0);
}

TEST_F(Helper, TotpRefusesWithoutASecretAndGuardsEnrolment) {
    fs::remove_all(s_root + "/secrets");
    ProcessResult result = helper({"service", "stop", "nginx", "--totp", "123456"});
    EXPECT_EQ(result.exit_code, 3);
    EXPECT_NE(answer(result)["error"].get<std::string>().find("not enrolled"), std::string::npos);

    result = admin_enroll(false);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("otpauth://totp/fleet-dispatch:fleet-helper%40"), std::string::npos);
    EXPECT_NE(result.out.find("\u2588"), std::string::npos) << "no QR code: " << result.out;
    const std::string first = read_file(s_root + "/secrets/totp");
    result = admin_enroll(false); // a secret is there: only --force replaces it
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("--force"), std::string::npos) << result.err;
    EXPECT_EQ(read_file(s_root + "/secrets/totp"), first);

    chmod((s_root + "/secrets/totp").c_str(), 0644);
    result = helper({"service", "stop", "nginx", "--totp", "123456"});
    EXPECT_EQ(result.exit_code, 3);
    EXPECT_NE(answer(result)["error"].get<std::string>().find("has mode 0644, too open"),
              std::string::npos);

    // A directory above the secret that its group could write: the secret could be replaced.
    chmod((s_root + "/secrets/totp").c_str(), 0600);
    const auto error_of = [&] {
        return answer(helper({"service", "stop", "nginx", "--totp", "123456"}))["error"]
            .get<std::string>();
    };
    EXPECT_EQ(error_of().find("directory"), std::string::npos) << error_of(); // control
    chmod((s_root + "/secrets").c_str(), 0770);
    EXPECT_NE(error_of().find("directory " + s_root + "/secrets must be owned by root"),
              std::string::npos)
        << error_of();
    chmod((s_root + "/secrets").c_str(), 0700);
}

TEST_F(Helper, AuditsEveryRequestOnOneEscapedLine) {
    fs::remove(s_root + "/log/helper.log");
    helper({"service", "restart", "nginx"});
    helper({"service", "restart", "apache2"});
    helper({"service", "start", "x\n{\"decision\":\"allowed\"}\x1b[2J"});
    helper({"bogus"});
    const std::vector<json> lines = audit_lines();
    ASSERT_EQ(lines.size(), 4U);
    EXPECT_EQ(lines[0]["decision"], "allowed");
    EXPECT_EQ(lines[0]["request"]["name"], "nginx");
    EXPECT_EQ(lines[0]["argv"][1], "--no-pager");
    EXPECT_EQ(lines[0]["exit_code"], 0);
    EXPECT_EQ(lines[0]["command_exit_code"], 0);
    EXPECT_TRUE(lines[0]["sudo_user"].is_null());
    EXPECT_EQ(lines[1]["decision"], "refused");
    EXPECT_EQ(lines[1]["reason"], "service 'apache2' is not allowed");
    EXPECT_EQ(lines[1]["exit_code"], 2);
    EXPECT_EQ(lines[2]["request"]["name"], "x\n{\"decision\":\"allowed\"}\\x1b[2J");
    EXPECT_EQ(lines[3]["decision"], "usage_error");
    EXPECT_EQ(lines[3]["request"]["argv"], json({"--policy", s_policy, "bogus"}));
    struct stat info {};
    ASSERT_EQ(stat((s_root + "/log/helper.log").c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0600U);
}

// sudo relays the caller's signals to the helper. A signal in the middle of an action must not end
// the helper before the action is on record: a "start" record before it runs, an "end" record
// after, with the signal noted; the action finishes as systemctl would.
TEST_F(Helper, ASignalDuringAnActionNeverLeavesItUnaudited) {
    fs::remove(s_root + "/log/helper.log");
    fs::remove(fake("slow"));
    write_file(fake("mode"), "slow", 0644);
    fleet::test::Started started =
        fleet::test::start({s_helper, "--policy", s_policy, "service", "restart", "nginx"});
    for (int i = 0; i < 100 && !fs::exists(fake("slow")); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(fs::exists(fake("slow"))) << "the action never started";
    ASSERT_EQ(kill(started.pid, SIGTERM), 0);
    ASSERT_EQ(kill(started.pid, SIGHUP), 0);
    ASSERT_EQ(kill(started.pid, SIGUSR1), 0); // sudo relays USR1 too; its default is to end
    ASSERT_EQ(kill(started.pid, SIGALRM), 0);
    const ProcessResult result = fleet::test::finish(started);
    EXPECT_EQ(result.signal, 0) << "a signal ended the helper";
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_EQ(read_file(fake("slow")), "started\nfinished\n");
    const std::vector<json> records = audit_lines(true);
    ASSERT_EQ(records.size(), 2U) << read_file(s_root + "/log/helper.log");
    EXPECT_EQ(records[0]["phase"], "start");
    EXPECT_EQ(records[0]["decision"], "allowed");
    EXPECT_EQ(records[0]["argv"][2], "restart");
    EXPECT_FALSE(records[0].contains("exit_code")); // not over yet
    EXPECT_EQ(records[1]["phase"], "end");
    EXPECT_EQ(records[1]["exit_code"], 0);
    EXPECT_EQ(records[1]["signals"], json({"SIGHUP", "SIGUSR1", "SIGALRM", "SIGTERM"}));
    EXPECT_EQ(records[0]["pid"], records[1]["pid"]);
}

// sudo hands the caller's resource limits down: the action gets root's (or, without
// CAP_SYS_RESOURCE, the caller's hard ones in full), and a CPU time or file size limit that would
// end it halfway is refused outright.
TEST_F(Helper, TheCallersResourceLimitsNeverReachTheAction) {
    const std::string limits = fake("limits");
    write_file(fake("mode"), "ok", 0644);
    // The fake reports the limits it got.
    const std::string reporter = fake("limit-reporter");
    write_file(reporter, "#!/bin/sh\nulimit -Sn > " + limits + "\n", 0755);
    std::string text = policy_text("");
    text.replace(text.find(fake("systemctl")), fake("systemctl").size(), reporter);
    write_file(s_policy, text, 0644);
    const ProcessResult few_files =
        fleet::test::run({"prlimit", "--nofile=16:64", s_helper, "--policy", s_policy, "service",
                          "status", "nginx"});
    EXPECT_EQ(few_files.exit_code, 0) << few_files.out << few_files.err;
    EXPECT_NE(read_file(limits), "16\n") << "the caller's soft limit reached the action";
    const ProcessResult cpu = fleet::test::run(
        {"prlimit", "--cpu=5:5", s_helper, "--policy", s_policy, "service", "status", "nginx"});
    EXPECT_EQ(cpu.exit_code, 2) << cpu.out;
    EXPECT_NE(cpu.out.find("CPU time limit cannot be lifted"), std::string::npos) << cpu.out;
    fs::remove(limits);
    fs::remove(reporter);
}

// A caller that closes stdout or leaves with the reader of it: the audit log neither receives
// the answer nor loses the line.
TEST_F(Helper, AuditsWhenStdoutIsClosedOrGone) {
    fs::remove(s_root + "/log/helper.log");
    ProcessResult result = fleet::test::run(
        {"/bin/sh", "-c", "exec \"$@\" >&-", "sh", s_helper, "--policy", s_policy, "ping"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    result = fleet::test::run({"/bin/sh", "-c", "\"$@\" | true", "sh", s_helper, "--policy",
                               s_policy, "service", "restart", "nginx"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    const std::vector<json> lines = audit_lines(); // each line parses: no answer mixed in
    ASSERT_EQ(lines.size(), 2U);
    EXPECT_EQ(lines[0]["request"]["command"], "ping");
    EXPECT_EQ(lines[1]["decision"], "allowed");
}

TEST_F(Helper, RefusesEverythingWhenTheAuditLogIsUnsafe) {
    chmod((s_root + "/log").c_str(), 0770);
    ProcessResult result = helper({"service", "status", "nginx"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(answer(result)["error"].get<std::string>().find("audit log unavailable"),
              std::string::npos);
    EXPECT_FALSE(fs::exists(fake("argv")));
    chmod((s_root + "/log").c_str(), 0700);
    chmod((s_root + "/log/helper.log").c_str(), 0644);
    EXPECT_EQ(helper({"service", "status", "nginx"}).exit_code, 2);
    chmod((s_root + "/log/helper.log").c_str(), 0600);
    EXPECT_EQ(helper({"service", "status", "nginx"}).exit_code, 0);
}

// syslog: when this host has no /dev/log, the test listens there itself for the duration.
TEST_F(Helper, AuditsToSyslogAuthpriv) {
    if (fs::exists("/dev/log")) {
        GTEST_SKIP() << "/dev/log belongs to this host's syslog";
    }
    const int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(sock, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, "/dev/log");
    ASSERT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    const timeval wait{5, 0};
    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    const auto receive = [&] {
        char buffer[65536];
        const ssize_t n = recv(sock, buffer, sizeof buffer, 0);
        return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
    };
    helper({"service", "status", "nginx"});
    const std::string starting = receive(); // an action's record before it runs
    const std::string allowed = receive();
    helper({"service", "status", "apache2"});
    const std::string refused = receive();
    unlink("/dev/log");
    close(sock);
    EXPECT_NE(starting.find("\"phase\":\"start\""), std::string::npos) << starting;
    EXPECT_EQ(allowed.rfind("<86>", 0), 0U) << allowed; // authpriv.info
    EXPECT_NE(allowed.find("\"phase\":\"end\""), std::string::npos) << allowed;
    EXPECT_NE(allowed.find("fleet-helper["), std::string::npos);
    EXPECT_NE(allowed.find("\"decision\":\"allowed\""), std::string::npos);
    EXPECT_EQ(refused.rfind("<85>", 0), 0U) << refused; // authpriv.notice
    EXPECT_NE(refused.find("\"decision\":\"refused\""), std::string::npos);
}

// Real sudo: a throwaway user reaches the helper only through the rule install-sudoers wrote,
// and only with the policy at its fixed path.
class HelperSudo : public Helper {
protected:
    static void SetUpTestSuite() {
        Helper::SetUpTestSuite();
        s_accounts = new Accounts();
        s_user = Accounts::unique_name("s");
        s_accounts->add_user(s_user);
        s_dotted = Accounts::unique_name("s.d");
        s_accounts->add_user(s_dotted);
        if (!fs::exists("/etc/fleet-dispatch")) {
            fs::create_directory("/etc/fleet-dispatch");
            s_created_etc = true;
        }
        if (!fs::exists(k_fixed_policy)) {
            write_file(k_fixed_policy, policy_text(""), 0644);
            s_created_policy = true;
        }
    }

    static void TearDownTestSuite() {
        for (const std::string& name : {"fleet-helper-" + s_user, "fleet-helper-" + dotted_file(),
                                        "zz-" + s_user + "-broken"}) {
            fs::remove("/etc/sudoers.d/" + name);
        }
        if (s_created_policy) {
            fs::remove(k_fixed_policy);
        }
        if (s_created_etc) {
            fs::remove("/etc/fleet-dispatch");
        }
        delete s_accounts;
        Helper::TearDownTestSuite();
    }

    static std::string dotted_file() {
        std::string name = s_dotted;
        name.replace(name.find('.'), 1, "%2e");
        return name;
    }

    static ProcessResult as_user(const std::string& user, const std::vector<std::string>& argv) {
        std::vector<std::string> full{"/usr/sbin/runuser", "-u", user, "--"};
        full.insert(full.end(), argv.begin(), argv.end());
        return fleet::test::run(full);
    }

    static ProcessResult sudo_helper(const std::vector<std::string>& args,
                                     const std::string& user = s_user) {
        std::vector<std::string> argv{"/usr/bin/sudo", "-n", s_helper};
        argv.insert(argv.end(), args.begin(), args.end());
        return as_user(user, argv);
    }

    static ProcessResult install(const std::string& user, const std::string& helper = s_helper) {
        return fleet::test::run({k_admin, "install-sudoers", "--user", user, "--helper", helper});
    }

    void SetUp() override {
        Helper::SetUp();
        if (!s_created_policy) {
            GTEST_SKIP() << k_fixed_policy << " belongs to a real installation";
        }
    }

    static constexpr const char* k_fixed_policy = "/etc/fleet-dispatch/helper.toml";
    static inline Accounts* s_accounts = nullptr;
    static inline std::string s_user;
    static inline std::string s_dotted;
    static inline bool s_created_etc = false;
    static inline bool s_created_policy = false;
};

TEST_F(HelperSudo, TheRuleInstallSudoersWritesIsTheOnlyWayIn) {
    ProcessResult result = sudo_helper({"ping"});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("password is required"), std::string::npos) << result.err;

    result = install(s_user);
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    const std::string file = "/etc/sudoers.d/fleet-helper-" + s_user;
    EXPECT_EQ(result.out, "fleet-admin: wrote " + file + ": " + s_user +
                              " ALL=(root) NOPASSWD: " + s_helper + "\n");
    struct stat info {};
    ASSERT_EQ(stat(file.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0440U);
    EXPECT_EQ(info.st_uid, 0U);
    EXPECT_EQ(info.st_gid, 0U);
    EXPECT_NE(install(s_user).out.find("already current"), std::string::npos); // idempotent
    EXPECT_EQ(fleet::test::run({"/usr/sbin/visudo", "-c", "-q"}).exit_code, 0);

    result = sudo_helper({"ping"});
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_EQ(answer(result)["policy"], k_fixed_policy);
    const json audit = audit_lines().back();
    EXPECT_EQ(audit["sudo_user"], s_user);
    EXPECT_EQ(audit["sudo_uid"], fleet::test::uid_of(s_user));
    EXPECT_EQ(audit["uid"], 0);

    // The rule names the helper and nothing else.
    result = as_user(s_user, {"/usr/bin/sudo", "-n", "/bin/true"});
    EXPECT_NE(result.exit_code, 0);
}

TEST_F(HelperSudo, ThroughSudoTheCallerControlsNeitherPolicyNorEnvironment) {
    ASSERT_EQ(install(s_user).exit_code, 0);
    ProcessResult result = sudo_helper({"service", "restart", "nginx"});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    const std::string env = read_file(fake("env"));
    EXPECT_EQ(env.find("SUDO_"), std::string::npos);
    EXPECT_NE(env.find("SYSTEMD_PAGER=cat"), std::string::npos);

    result = sudo_helper({"--policy", s_policy, "ping"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(answer(result)["error"].get<std::string>().find("--policy is refused"),
              std::string::npos);

    result = as_user(s_user, {"/usr/bin/sudo", "-n", "SYSTEMD_PAGER=/bin/sh", s_helper, "ping"});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_EQ(result.out, ""); // sudo refused before the helper ran
    result = as_user(s_user, {"/usr/bin/sudo", "-n", "-E", s_helper, "ping"});
    EXPECT_NE(result.exit_code, 0);

    // Root's set-up verbs are not the helper's at all: the agents' road does not lead to them.
    result = sudo_helper({"totp", "enroll", "--force"});
    EXPECT_EQ(result.exit_code, 4);
    EXPECT_NE(result.out.find("is fleet-admin's"), std::string::npos) << result.out;
    EXPECT_EQ(sudo_helper({"install-sudoers", "--user", s_user}).exit_code, 4);

    // Without sudo the user is no one: no policy path of its choosing, no audit log, no root.
    result = as_user(s_user, {s_helper, "--policy", s_policy, "service", "restart", "nginx"});
    EXPECT_EQ(result.exit_code, 2);
}

TEST_F(HelperSudo, HandlesUserNamesWithADot) {
    const ProcessResult result = install(s_dotted);
    ASSERT_EQ(result.exit_code, 0) << result.out;
    EXPECT_NE(result.out.find("/etc/sudoers.d/fleet-helper-" + dotted_file() + ":"),
              std::string::npos)
        << result.out;
    EXPECT_EQ(sudo_helper({"ping"}, s_dotted).exit_code, 0);
}

TEST_F(HelperSudo, RefusesBadUsersAndAHelperOthersCouldReplace) {
    for (const char* user : {"no-such-user-here", "root", "-oProxyCommand=x", "x';id;'"}) {
        const ProcessResult result = install(user);
        EXPECT_EQ(result.exit_code, 1) << user << result.out;
    }
    const std::string loose = s_root + "/loose";
    fs::create_directories(loose);
    fs::copy_file(s_helper, loose + "/fleet-helper", fs::copy_options::overwrite_existing);
    chmod(loose.c_str(), 0777);
    ProcessResult result = install(s_user, loose + "/fleet-helper");
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("directory " + loose), std::string::npos) << result.err;
    chmod(loose.c_str(), 0755);
    chmod((loose + "/fleet-helper").c_str(), 0775);
    EXPECT_EQ(install(s_user, loose + "/fleet-helper").exit_code, 1);
    chmod((loose + "/fleet-helper").c_str(), 0755);
    EXPECT_EQ(install(s_user, loose + "/fleet-helper").exit_code, 0); // control
    EXPECT_EQ(install(s_user).exit_code, 0);
}

TEST_F(HelperSudo, RollsBackWhenTheWholeConfigurationFails) {
    ASSERT_EQ(install(s_user).exit_code, 0);
    const std::string file = "/etc/sudoers.d/fleet-helper-" + s_user;
    const std::string before = read_file(file);
    const std::string other = s_root + "/other";
    fs::create_directories(other);
    fs::copy_file(s_helper, other + "/fleet-helper", fs::copy_options::overwrite_existing);
    const std::string broken = "/etc/sudoers.d/zz-" + s_user + "-broken";
    write_file(broken, "this is not sudoers syntax\n", 0440);
    const ProcessResult result = install(s_user, other + "/fleet-helper");
    fs::remove(broken);
    EXPECT_EQ(result.exit_code, 1) << result.out;
    EXPECT_NE(result.err.find("previous rule file is back"), std::string::npos) << result.err;
    EXPECT_EQ(read_file(file), before);
    for (const auto& entry : fs::directory_iterator("/etc/sudoers.d")) {
        EXPECT_EQ(entry.path().filename().string().find(".fleet-helper"), std::string::npos)
            << "staging file left behind: " << entry.path();
    }
    EXPECT_EQ(sudo_helper({"ping"}).exit_code, 0);
}

} // namespace
