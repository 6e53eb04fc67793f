// fleet-helper (helper_test suite) over its socket: systemd-socket-activate --accept runs one
// root `fleet-helper --serve-socket` per connection, as the shipped fleet-helper.socket does,
// and throwaway users ask as a confined agent would (no_new_privs, so no sudo).
#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/helper_fixture.hpp"
#include "support/accounts.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

class HelperSocket : public Helper {
protected:
    static void SetUpTestSuite() {
        Helper::SetUpTestSuite();
        s_accounts = new Accounts();
        s_user = Accounts::unique_name("k");
        s_uid = s_accounts->add_user(s_user);
        s_stranger = Accounts::unique_name("x");
        s_accounts->add_user(s_stranger);
        s_socket = s_root + "/helper.sock";
        s_server_policy = s_root + "/socket-helper.toml";
        write_file(s_server_policy, policy_text("socket_users = [\"" + s_user + "\"]\n"), 0644);
        s_server =
            fleet::test::start({"/usr/bin/systemd-socket-activate", "--accept", "-l", s_socket,
                                s_helper, "--serve-socket", "--policy", s_server_policy});
        for (int i = 0; i < 100 && !fs::exists(s_socket); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        // As fleet-helper.socket's SocketMode=0666: anyone connects, the policy decides.
        chmod(s_socket.c_str(), 0666);
    }

    static void TearDownTestSuite() {
        kill(s_server.pid, SIGTERM);
        fleet::test::finish(s_server);
        delete s_accounts;
        Helper::TearDownTestSuite();
    }

    // fleet-helper ARGS as `user`, with no_new_privs and a clean environment, as an agent.
    static ProcessResult ask_as(const std::string& user, const std::vector<std::string>& args,
                                const std::string& extra_env = "") {
        std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid=" + user,
                                         "--regid=" + user,  "--init-groups",
                                         "--no-new-privs",   "--reset-env",
                                         "/usr/bin/env",     "FLEET_HELPER_SOCKET=" + s_socket};
        if (!extra_env.empty()) {
            argv.push_back(extra_env);
        }
        argv.push_back(s_helper);
        argv.insert(argv.end(), args.begin(), args.end());
        return fleet::test::run(argv);
    }

    static inline Accounts* s_accounts = nullptr;
    static inline std::string s_user, s_stranger, s_socket, s_server_policy;
    static inline uid_t s_uid = 0;
    static inline fleet::test::Started s_server;
};

// A listed user, with no_new_privs (sudo impossible), restarts nginx: the action ran as root
// and the audit names the caller the kernel reported.
TEST_F(HelperSocket, AListedUserIsServedAsThroughSudo) {
    const ProcessResult result = ask_as(s_user, {"service", "restart", "nginx"});
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    const json reply = answer(result);
    EXPECT_EQ(reply["ok"], true) << result.out;
    EXPECT_EQ(reply["exit"], 0);
    EXPECT_EQ(recorded_argv(), (std::vector<std::string>{fake("systemctl"), "--no-pager", "restart",
                                                         "--", "nginx"}));
    const json audit = audit_lines().back();
    EXPECT_EQ(audit["road"], "socket");
    EXPECT_EQ(audit["peer_uid"], s_uid);
    EXPECT_EQ(audit["peer_user"], s_user);
    EXPECT_EQ(audit["decision"], "allowed");
}

// The same grammar and policy: an unlisted unit is refused, a TOTP action needs its code, a
// request line that is not the protocol is a usage error; each one audited.
TEST_F(HelperSocket, RefusalsAreTheSudoRoadsOwn) {
    const ProcessResult unlisted = ask_as(s_user, {"service", "restart", "apache2"});
    EXPECT_EQ(unlisted.exit_code, 2) << unlisted.out;
    EXPECT_EQ(answer(unlisted)["ok"], false);
    EXPECT_EQ(audit_lines().back()["decision"], "refused");
    const ProcessResult totp = ask_as(s_user, {"service", "stop", "nginx"});
    EXPECT_EQ(totp.exit_code, 3) << totp.out;
    EXPECT_NE(answer(totp)["error"].get<std::string>().find("TOTP"), std::string::npos);
    EXPECT_FALSE(fs::exists(fake("argv"))); // nothing ran
    // With a fresh code from the authenticator, the gated action runs.
    const std::string code = totp_now(enroll(), time(nullptr));
    const ProcessResult coded = ask_as(s_user, {"service", "stop", "nginx", "--totp", code});
    EXPECT_EQ(coded.exit_code, 0) << coded.out;
    EXPECT_EQ(recorded_argv(),
              (std::vector<std::string>{fake("systemctl"), "--no-pager", "stop", "--", "nginx"}));
    EXPECT_TRUE(audit_lines().back().contains("totp_counter"));
    fs::remove(fake("argv"));
    const std::string send_garbage =
        "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
        "s.sendall(b'not json\\n'); s.shutdown(socket.SHUT_WR); print(s.recv(65536).decode())";
    const ProcessResult garbage =
        fleet::test::run({"/usr/bin/setpriv", "--reuid=" + s_user, "--regid=" + s_user,
                          "--init-groups", "/usr/bin/python3", "-c", send_garbage, s_socket});
    EXPECT_EQ(json::parse(garbage.out)["exit"], 4) << garbage.out;
    EXPECT_EQ(audit_lines().back()["decision"], "usage_error");
}

// Who is asking is the kernel's word: a user not in socket_users is refused (and audited
// under its own uid), and a client that claims to be someone else (SUDO_* in its environment,
// a uid in its request) or names another policy changes nothing.
TEST_F(HelperSocket, ThePeerIsWhoTheKernelSaysAndNothingElse) {
    const ProcessResult stranger = ask_as(s_stranger, {"service", "restart", "nginx"});
    EXPECT_EQ(stranger.exit_code, 2) << stranger.out;
    EXPECT_NE(answer(stranger)["error"].get<std::string>().find("not in the policy's socket_users"),
              std::string::npos);
    EXPECT_EQ(audit_lines().back()["peer_user"], s_stranger);
    EXPECT_FALSE(fs::exists(fake("argv")));

    const ProcessResult lying = fleet::test::run(
        {"/usr/bin/setpriv", "--reuid=" + s_stranger, "--regid=" + s_stranger, "--init-groups",
         "/usr/bin/env", "SUDO_USER=" + s_user, "SUDO_UID=" + std::to_string(s_uid),
         "/usr/bin/python3", "-c",
         "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
         "s.sendall(b'{\"argv\":[\"service\",\"restart\",\"nginx\"],\"uid\":0,\"user\":\"" +
             s_user + "\"}\\n'); s.shutdown(socket.SHUT_WR); print(s.recv(65536).decode())",
         s_socket});
    EXPECT_EQ(json::parse(lying.out)["exit"], 2) << lying.out;
    EXPECT_EQ(audit_lines().back()["peer_user"], s_stranger);
    EXPECT_FALSE(fs::exists(fake("argv")));

    const ProcessResult other_policy =
        ask_as(s_user, {"--policy", s_policy, "service", "restart", "nginx"});
    EXPECT_EQ(other_policy.exit_code, 2) << other_policy.out;
    EXPECT_NE(answer(other_policy)["error"].get<std::string>().find("--policy is refused"),
              std::string::npos);
    // The control: the listed user's plain request is served.
    EXPECT_EQ(ask_as(s_user, {"service", "status", "nginx"}).exit_code, 0);
}

// The point of the socket: an agent of a dispatch run, confined (Landlock, no_new_privs, so no
// sudo), still restarts nginx through fleet-helper.
TEST_F(HelperSocket, AConfinedAgentOfARunStillRestartsNginx) {
    const std::string config = s_root + "/dispatch.toml";
    write_file(config,
               "user = \"" + s_user + "\"\n[agents.ops]\ncommand = [\"/usr/bin/env\", " +
                   "\"FLEET_HELPER_SOCKET=" + s_socket + "\", \"" + s_helper +
                   "\", \"service\", \"restart\", \"nginx\"]\nread = [\"" + s_root + "/bin\"]\n",
               0644);
    const ProcessResult run =
        fleet::test::run({DISPATCH_PATH, "-c", config, "-a", "ops", "run", "x"});
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
    EXPECT_EQ(run.out.find("UNCONFINED"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("\"ok\":true"), std::string::npos) << run.out;
    EXPECT_EQ(recorded_argv(), (std::vector<std::string>{fake("systemctl"), "--no-pager", "restart",
                                                         "--", "nginx"}));
    EXPECT_EQ(audit_lines().back()["road"], "socket");
    EXPECT_EQ(audit_lines().back()["peer_uid"], s_uid);
}

// --serve-socket is root's socket unit's: without socket activation (or through sudo) it is
// a usage error and serves nothing.
TEST_F(HelperSocket, ServeSocketOnlyUnderSocketActivation) {
    const ProcessResult direct = fleet::test::run({s_helper, "--serve-socket"});
    EXPECT_EQ(direct.exit_code, 4) << direct.out << direct.err;
    EXPECT_NE(direct.err.find("only root's socket unit"), std::string::npos) << direct.err;
}

} // namespace
