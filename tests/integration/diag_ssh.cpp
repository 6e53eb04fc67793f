// fleet-diag (diag_test suite): the whole channel through a real sshd, set up by setup-diag.
#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/diag_fixture.hpp"
#include "support/accounts.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

// The whole channel: a real sshd on 127.0.0.1, the host side set up by deploy/sshd/setup-diag
// (system user, root-owned home and authorized_keys with restrict,from=,command=, the audit log,
// the shipped Match block, sshd -t) for a throwaway diag user.
class DiagSsh : public Diag {
protected:
    static void SetUpTestSuite() {
        Diag::SetUpTestSuite();
        s_user = Accounts::unique_name("g");
        const std::string ssh = s_root + "/ssh";
        fs::create_directories(ssh + "/conf.d");
        fleet::test::run_ok(
            {"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ssh + "/host_key"});
        fleet::test::run_ok({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                             "diag-test", "-f", ssh + "/client_key"});
        s_port = free_port();
        // Like Debian's: the drop-in directory first, global settings after it (a Match block
        // in an included file must end with that file).
        write_file(ssh + "/sshd_config",
                   "Include " + ssh + "/conf.d/*.conf\nPort " + std::to_string(s_port) +
                       "\nListenAddress 127.0.0.1\nHostKey " + ssh +
                       "/host_key\nPidFile none\nUsePAM no\nPasswordAuthentication no\n"
                       "KbdInteractiveAuthentication no\nAllowUsers " +
                       s_user + "\n",
                   0644);
        write_file(ssh + "/known_hosts",
                   "[127.0.0.1]:" + std::to_string(s_port) + " " + read_file(ssh + "/host_key.pub"),
                   0644);
        fs::create_directories("/run/sshd");
        // The host side exactly as an operator sets it up: user, home, pinned key, audit log,
        // Match block, sshd -t.
        std::string key = read_file(ssh + "/client_key.pub");
        key.erase(key.find_last_not_of('\n') + 1);
        fs::remove(s_root + "/log/diag.log");
        s_setup =
            fleet::test::run({std::string(FLEET_SOURCE_DIR) + "/deploy/sshd/setup-diag", "--user",
                              s_user, "--key", key, "--from", "127.0.0.1", "--fleet-diag", s_diag,
                              "--sshd-config-dir", ssh + "/conf.d", "--sshd-config",
                              ssh + "/sshd_config", "--audit-log", s_root + "/log/diag.log"});
        s_placed.directory("/etc/fleet-dispatch");
        s_created_policy = s_placed.file(k_fixed_policy, policy_text(""), 0644);
        s_sshd = fleet::test::start({"/usr/sbin/sshd", "-D", "-e", "-f", ssh + "/sshd_config"});
        wait_for_port(s_port);
    }

    static void TearDownTestSuite() {
        kill(s_sshd.pid, SIGTERM);
        fleet::test::finish(s_sshd);
        s_placed.put_back();
        fleet::test::run({"/usr/bin/chattr", "-a", s_root + "/log/diag.log"});
        fleet::test::run({"/usr/sbin/userdel", s_user});
        fs::remove_all("/var/lib/fleet-" + s_user);
        Diag::TearDownTestSuite();
    }

    void SetUp() override {
        Diag::SetUp();
        if (!s_created_policy) {
            GTEST_SKIP() << k_fixed_policy << " belongs to a real installation";
        }
    }

    static int free_port() {
        const int sock = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        EXPECT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
        EXPECT_EQ(getsockname(sock, reinterpret_cast<sockaddr*>(&address), &length), 0);
        close(sock);
        return ntohs(address.sin_port);
    }

    static void wait_for_port(int port) {
        for (int i = 0; i < 100; ++i) {
            const int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_port = htons(static_cast<uint16_t>(port));
            address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            const bool up =
                connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
            close(sock);
            if (up) {
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        FAIL() << "sshd did not listen on port " << port;
    }

    static ProcessResult ssh(const std::vector<std::string>& extra, const std::string& request) {
        const std::string dir = s_root + "/ssh";
        std::vector<std::string> argv{"/usr/bin/ssh",
                                      "-F",
                                      "/dev/null",
                                      "-p",
                                      std::to_string(s_port),
                                      "-i",
                                      dir + "/client_key",
                                      "-o",
                                      "IdentitiesOnly=yes",
                                      "-o",
                                      "BatchMode=yes",
                                      "-o",
                                      "StrictHostKeyChecking=yes",
                                      "-o",
                                      "UserKnownHostsFile=" + dir + "/known_hosts",
                                      "-o",
                                      "LogLevel=ERROR"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.emplace_back("--"); // ssh reads options after the destination otherwise
        argv.push_back(s_user + "@127.0.0.1");
        if (!request.empty()) {
            argv.push_back(request);
        }
        return fleet::test::run(argv);
    }

    static constexpr const char* k_fixed_policy = "/etc/fleet-dispatch/diag.toml";
    static inline std::string s_user;
    static inline ProcessResult s_setup;
    static inline int s_port = 0;
    static inline fleet::test::Started s_sshd;
    static inline fleet::test::PlacedPaths s_placed;
    static inline bool s_created_policy = false;
};

TEST_F(DiagSsh, SetupDiagPreparesTheHostIdempotently) {
    ASSERT_EQ(s_setup.exit_code, 0) << s_setup.out << s_setup.err;
    const std::string home = "/var/lib/fleet-" + s_user;
    const std::string keys = read_file(home + "/.ssh/authorized_keys");
    EXPECT_EQ(keys.rfind("restrict,from=\"127.0.0.1\",command=\"" + s_diag + "\" ssh-ed25519 ", 0),
              0U)
        << keys;
    struct stat info {};
    ASSERT_EQ(stat((home + "/.ssh/authorized_keys").c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, 0U);
    ASSERT_EQ(stat((s_root + "/log/diag.log").c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0620U);
    EXPECT_EQ(info.st_gid, fleet::test::gid_of_group(s_user));
    const std::string passwd = fleet::test::run_ok({"/usr/bin/getent", "passwd", s_user});
    EXPECT_NE(passwd.find(":" + home + ":/bin/sh"), std::string::npos) << passwd;
    // Again: nothing to change, nothing written.
    std::string key = read_file(s_root + "/ssh/client_key.pub");
    key.erase(key.find_last_not_of('\n') + 1);
    const std::vector<std::string> argv{std::string(FLEET_SOURCE_DIR) + "/deploy/sshd/setup-diag",
                                        "--user",
                                        s_user,
                                        "--key",
                                        key,
                                        "--from",
                                        "127.0.0.1",
                                        "--fleet-diag",
                                        s_diag,
                                        "--sshd-config-dir",
                                        s_root + "/ssh/conf.d",
                                        "--sshd-config",
                                        s_root + "/ssh/sshd_config",
                                        "--audit-log",
                                        s_root + "/log/diag.log",
                                        "--dry-run"};
    const ProcessResult again = fleet::test::run(argv);
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(again.out.find("would write"), std::string::npos) << again.out;
    // Hostile values never reach a root-owned file.
    for (const auto& [option, value] : std::vector<std::pair<std::string, std::string>>{
             {"--user", "x';id;'"},
             {"--key", "ssh-ed25519 AAAA\" evil"},
             {"--key", "command=\"/bin/sh\" ssh-ed25519 AAAA"},
             {"--from", "*\",command=\"/bin/sh"},
             {"--fleet-diag", "/usr/bin/fleet diag"}}) {
        std::vector<std::string> bad = argv;
        bad.push_back(option);
        bad.push_back(value);
        EXPECT_EQ(fleet::test::run(bad).exit_code, 2) << option << " " << value;
    }
}

TEST_F(DiagSsh, ServesAllowedRequestsAsTheDiagUser) {
    ProcessResult result = ssh({}, "cat " + tree("app.log"));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "line 1\nline 2\nline 3\nline 4\n");
    result = ssh({}, "journalctl -u nginx --since '2026-11-01 10:00'");
    EXPECT_EQ(result.exit_code, 0) << result.err;
    ASSERT_FALSE(recorded_argv().empty());
    EXPECT_EQ(recorded_argv().back(), "--since=2026-11-01 10:00");
    ASSERT_FALSE(audit_lines().empty());
    const json line = audit_lines().back();
    EXPECT_EQ(line["uid"], fleet::test::uid_of(s_user));
    EXPECT_EQ(line["ssh_connection"].get<std::string>().rfind("127.0.0.1 ", 0), 0U);
    const std::string fingerprint =
        fleet::test::run_ok({"/usr/bin/ssh-keygen", "-l", "-f", s_root + "/ssh/client_key.pub"});
    EXPECT_NE(fingerprint.find(line["key"].get<std::string>()), std::string::npos)
        << fingerprint << " vs " << line["key"];
    EXPECT_EQ(line["key"].get<std::string>().rfind("SHA256:", 0), 0U);
}

TEST_F(DiagSsh, RefusesOverSshWhatItRefusesLocally) {
    for (const char* request : {"cat /etc/shadow", "cat /etc/hostname; id", "cat /etc/hostname\nid",
                                "sh -c id", "journalctl -D /tmp", "cat $(echo /etc/shadow)"}) {
        const ProcessResult result = ssh({}, request);
        EXPECT_EQ(result.exit_code, 125) << request << result.err;
        EXPECT_EQ(result.out, "") << request;
    }
    EXPECT_EQ(ssh({}, "cat /etc/hostname").exit_code, 0); // control
    // --policy cannot be smuggled: the whole string is the request, and it is not one.
    EXPECT_EQ(ssh({}, "--policy /tmp/x.toml -- df").exit_code, 125);
}

TEST_F(DiagSsh, AnEmptyRequestListsCommandsAndATerminalIsNeverGranted) {
    ProcessResult result = ssh({"-T"}, "");
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("Allowed requests"), std::string::npos);
    // PermitTTY no and restrict: no terminal. ssh -tt gives up on the refusal and closes the
    // channel; its exec request went with the pty request, so the command may still have
    // started without a terminal (and been audited) before the close reached sshd: what is
    // asserted is that no terminal was granted and nothing came back.
    result = ssh({"-tt"}, "cat /etc/hostname");
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("PTY allocation request failed"), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");
    // Port forwarding is off for the key and the user.
    result = ssh({"-N", "-o", "ExitOnForwardFailure=yes", "-L", "127.0.0.1:0:127.0.0.1:22"}, "");
    EXPECT_NE(result.exit_code, 0);
}

// Last of the suite: --uninstall takes the account, its keys and home and the Match block away
// (dry run first: it only says so), keeps the audit log, and the channel is closed.
TEST_F(DiagSsh, UninstallTakesAwayWhatSetupMadeAndKeepsTheAuditLog) {
    ASSERT_EQ(ssh({"-T"}, "cat /etc/hostname").exit_code, 0); // the control: it serves
    const std::string block = s_root + "/ssh/conf.d/fleet-diag-" + s_user + ".conf";
    const std::string home = "/var/lib/fleet-" + s_user;
    std::vector<std::string> argv{std::string(FLEET_SOURCE_DIR) + "/deploy/sshd/setup-diag",
                                  "--uninstall",
                                  "--user",
                                  s_user,
                                  "--sshd-config-dir",
                                  s_root + "/ssh/conf.d",
                                  "--sshd-config",
                                  s_root + "/ssh/sshd_config",
                                  "--audit-log",
                                  s_root + "/log/diag.log"};
    argv.push_back("--dry-run");
    const ProcessResult dry = fleet::test::run(argv);
    EXPECT_EQ(dry.exit_code, 0) << dry.err;
    EXPECT_NE(dry.out.find("would: userdel " + s_user), std::string::npos) << dry.out;
    EXPECT_TRUE(fs::exists(block));
    argv.pop_back();
    const ProcessResult done = fleet::test::run(argv);
    EXPECT_EQ(done.exit_code, 0) << done.out << done.err;
    EXPECT_FALSE(fs::exists(block));
    EXPECT_FALSE(fs::exists(home));
    EXPECT_NE(fleet::test::run({"/usr/bin/getent", "passwd", s_user}).exit_code, 0);
    EXPECT_TRUE(fs::exists(s_root + "/log/diag.log"));
    EXPECT_NE(ssh({"-T"}, "cat /etc/hostname").exit_code, 0);
}

} // namespace
