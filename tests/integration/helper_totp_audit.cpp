// fleet-helper (helper_test suite): the TOTP gate, the audit log, signals and resource limits.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <liboath/oath.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/helper_fixture.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

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

} // namespace
