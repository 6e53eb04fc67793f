// Confinement, as root with a real user: a hostile agent (tests/support/hostile-agent) tries
// everything docs/dispatch.md ("What an agent can and cannot do") says it cannot do, beside a
// victim sibling, and the same run with confine = "off" is the control that shows each attack
// works where nothing stops it. Then a kernel without Landlock (fl-enosys landlock): recorded
// and shown as unconfined, or refused with confine = "required".
#include <algorithm>
#include <arpa/inet.h>
#include <filesystem>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/process.hpp"
#include "support/runner_fixture.hpp"
#include "sys/landlock.hpp"

namespace {

namespace fs = std::filesystem;
using fleet::test::ProcessResult;
using fleet::test::read_file;
using fleet::test::run_id_of;
using fleet::test::survivors;
using fleet::test::write_file;
using nlohmann::json;

constexpr const char* k_secret = "victim-key-4711";
constexpr const char* k_ssh_key = "PRIVATE-KEY-OF-THE-USER";

// A listening loopback TCP socket: connections complete in its backlog, nothing accepts them.
int listen_loopback(int& port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        listen(fd, 16) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
        return -1;
    }
    port = ntohs(address.sin_port);
    return fd;
}

class Confine : public fleet::test::RunnerFixture {
protected:
    static void SetUpTestSuite() {
        set_up_runner("c", "confine");
        for (const char* agent : {"hostile-agent", "victim-agent"}) {
            fs::copy_file(std::string(FLEET_SOURCE_DIR) + "/tests/support/" + agent,
                          s_dir + "/" + agent);
            chmod((s_dir + "/" + agent).c_str(), 0755);
        }
        s_home = "/home/" + s_user;
        const std::string uid = std::to_string(s_uid);
        for (const auto& [path, text] :
             {std::pair{s_home + "/.ssh/id_ed25519", std::string(k_ssh_key) + "\n"},
              std::pair{s_home + "/.aws/credentials", std::string("aws_secret_access_key=x\n")},
              std::pair{s_home + "/.bashrc", std::string("# the user's\n")}}) {
            fs::create_directories(fs::path(path).parent_path());
            write_file(path, text, 0600);
        }
        s_other_run = s_runs + "/20261201T000000Z-other";
        fs::create_directories(s_other_run);
        fleet::test::run({"/bin/chown", "-R", uid + ":" + uid, s_home});
        s_open = listen_loopback(s_open_port);
        s_closed = listen_loopback(s_closed_port);
        ASSERT_GE(s_open, 0);
        ASSERT_GE(s_closed, 0);
        write_config(s_config, "");
        write_config(s_dir + "/off.toml", "confine = \"off\"\n");
        write_config(s_dir + "/required.toml", "confine = \"required\"\n");
    }

    static void TearDownTestSuite() {
        close(s_open);
        close(s_closed);
        RunnerFixture::TearDownTestSuite();
    }

    static void write_config(const std::string& path, const std::string& top) {
        const std::string abstract = "fl-victim-" + s_user;
        write_file(path,
                   top + "user = \"" + s_user + "\"\ngrace = \"1s\"\n" +
                       "[agents.hostile]\ncommand = [\"" + s_dir + "/hostile-agent\"]\n" +
                       "tcp_connect = [" + std::to_string(s_open_port) + "]\n" +
                       "[agents.hostile.env]\nVICTIM_SECRET = \"" + k_secret +
                       "\"\nUSER_HOME = \"" + s_home + "\"\nOTHER_RUN = \"" + s_other_run +
                       "\"\nOPEN_PORT = \"" + std::to_string(s_open_port) + "\"\nCLOSED_PORT = \"" +
                       std::to_string(s_closed_port) + "\"\nABSTRACT = \"" + abstract + "\"\n" +
                       "[agents.victim]\ncommand = [\"" + s_dir + "/victim-agent\"]\n" +
                       "[agents.victim.env]\nVICTIM_SECRET = \"" + k_secret + "\"\nABSTRACT = \"" +
                       abstract + "\"\n" +
                       "[agents.plain]\ncommand = [\"/bin/sh\", \"-c\", \"echo plain\"]\n",
                   0644);
    }

    // The hostile agent beside its victim, with a run timeout that ends the hostile one.
    static ProcessResult attack(const std::string& config) {
        return dispatch({"-a", "hostile,victim", "--timeout", "8s", "run", "attack"}, {}, config);
    }

    static std::string hostile_log(const std::string& run_id) {
        return read_file(run_dir(run_id) + "/hostile.log");
    }

    static inline std::string s_home, s_other_run;
    static inline int s_open = -1, s_closed = -1, s_open_port = 0, s_closed_port = 0;
};

// Every attack is refused and every control works; the record, the other run, the user's
// files and the victim are untouched; the runner outlived SIGSTOP and SIGKILL, enforced the
// timeout, and left nothing behind.
TEST_F(Confine, AHostileAgentGetsNothingOfWhatItTries) {
    if (fleet::landlock_abi() < 6) {
        GTEST_SKIP() << "needs Landlock ABI 6 (signal and socket scopes); this kernel has "
                     << fleet::landlock_abi();
    }
    const ProcessResult result = attack(s_config);
    const std::string id = run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out << result.err;
    EXPECT_EQ(result.exit_code, 124) << result.out << result.err; // the hostile one timed out
    const std::string log = hostile_log(id);
    EXPECT_NE(log.find("DONE"), std::string::npos) << log;
    EXPECT_EQ(log.find("SUCCEEDED"), std::string::npos) << log;
    EXPECT_EQ(log.find("FAILED"), std::string::npos) << log;
    for (const char* name :
         {"sibling-environ", "sibling-work", "sibling-home", "ssh-key", "aws-credentials",
          "write-status", "write-own-log", "truncate-status", "write-other-run", "write-bashrc",
          "connect-closed-port", "sibling-abstract-socket", "kill-sibling", "stop-runner",
          "kill-runner"}) {
        EXPECT_NE(log.find(std::string("ATTACK ") + name + " refused"), std::string::npos)
            << name << "\n"
            << log;
    }
    EXPECT_EQ(log.find(k_secret), std::string::npos);
    EXPECT_EQ(log.find(k_ssh_key), std::string::npos);
    const json status = status_json(id);
    EXPECT_EQ(status["state"], "timed_out");
    EXPECT_EQ(status["confinement"]["pid_namespace"], true);
    EXPECT_EQ(status["agents"][0]["state"], "timed_out");
    EXPECT_EQ(status["agents"][1]["name"], "victim");
    EXPECT_EQ(status["agents"][1]["state"], "succeeded"); // not killed by its sibling
    for (const json& agent : status["agents"]) {
        EXPECT_EQ(agent["confinement"]["level"], "full") << agent.dump();
        EXPECT_GE(agent["confinement"]["landlock_abi"].get<int>(), 6);
    }
    EXPECT_EQ(read_file(run_dir(id) + "/status.json").find("forged"), std::string::npos);
    EXPECT_FALSE(fs::exists(s_other_run + "/planted"));
    EXPECT_EQ(read_file(s_home + "/.bashrc"), "# the user's\n");
    EXPECT_TRUE(fs::exists(run_dir(id) + "/work-hostile/made-by-agent.txt"));
    EXPECT_TRUE(fs::exists(run_dir(id) + "/work-hostile/repo/.git"));
    EXPECT_FALSE(fs::exists(run_dir(id) + "/tmp-hostile")); // removed once it was done
    EXPECT_TRUE(survivors(id).empty());
}

// The control: the same agents with confine = "off" get what they try (so the test above
// could fail), except what the run's PID namespace stops: the runner still outlives them.
TEST_F(Confine, UnconfinedTheSameAttacksWork) {
    const ProcessResult result = attack(s_dir + "/off.toml");
    const std::string id = run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out << result.err;
    EXPECT_EQ(result.exit_code, 124) << result.out << result.err;
    const std::string log = hostile_log(id);
    for (const char* name : {"sibling-environ", "sibling-work", "sibling-home", "ssh-key",
                             "aws-credentials", "write-other-run", "write-bashrc",
                             "connect-closed-port", "sibling-abstract-socket", "kill-sibling"}) {
        EXPECT_NE(log.find(std::string("ATTACK ") + name + " SUCCEEDED"), std::string::npos)
            << name << "\n"
            << log;
    }
    EXPECT_NE(result.out.find("UNCONFINED (confine = off)"), std::string::npos) << result.out;
    const json status = status_json(id);
    EXPECT_EQ(status["agents"][0]["confinement"]["level"], "off");
    EXPECT_EQ(status["agents"][1]["state"], "failed"); // its sibling killed it
    EXPECT_TRUE(survivors(id).empty()); // the escaped processes died with the namespace
    fs::remove(s_other_run + "/planted");
    write_file(s_home + "/.bashrc", "# the user's\n", 0600);
    fleet::test::run({"/bin/chown", std::to_string(s_uid), s_home + "/.bashrc"});
}

// A kernel without Landlock (the calls fail with ENOSYS): by default the run goes on, and
// status.json and the summary say the agent ran unconfined; confine = "required" refuses
// before anything starts (exit 3, one line naming what the kernel lacks); the control is the
// same required run on this kernel.
TEST_F(Confine, WithoutLandlockUnconfinedIsRecordedOrRefused) {
    const std::vector<std::string> base = {FL_ENOSYS_PATH, "landlock", DISPATCH_PATH, "-c"};
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), {s_config, "-a", "plain", "run", "x"});
    const ProcessResult recorded = fleet::test::run(argv);
    EXPECT_EQ(recorded.exit_code, 0) << recorded.out << recorded.err;
    EXPECT_NE(recorded.out.find("UNCONFINED (no Landlock)"), std::string::npos) << recorded.out;
    const json status = status_json(run_id_of(recorded.out));
    EXPECT_EQ(status["agents"][0]["confinement"]["level"], "none");
    EXPECT_EQ(status["agents"][0]["confinement"]["landlock_abi"], 0);

    argv = base;
    argv.insert(argv.end(), {s_dir + "/required.toml", "-a", "plain", "run", "x"});
    const ProcessResult refused = fleet::test::run(argv);
    EXPECT_EQ(refused.exit_code, 3) << refused.out << refused.err;
    EXPECT_EQ(refused.out, "");
    EXPECT_NE(refused.err.find("confine = \"required\", but this kernel lacks"), std::string::npos)
        << refused.err;
    EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;

    if (fleet::landlock_abi() >= 6) {
        const ProcessResult control =
            dispatch({"-a", "plain", "run", "x"}, {}, s_dir + "/required.toml");
        EXPECT_EQ(control.exit_code, 0) << control.out << control.err;
        EXPECT_EQ(control.out.find("UNCONFINED"), std::string::npos) << control.out;
        EXPECT_EQ(status_json(run_id_of(control.out))["agents"][0]["confinement"]["level"], "full");
    }
}

// What a config may not grant: each refused with one line naming the key (exit 2), beside a
// path that is accepted.
TEST_F(Confine, AccessPathsThatWouldGrantTooMuchAreConfigErrors) {
    const auto with = [&](const std::string& line) {
        const std::string path = s_dir + "/paths.toml";
        write_file(path,
                   "user = \"" + s_user + "\"\n[agents.plain]\ncommand = [\"/bin/true\"]\n" + line +
                       "\n",
                   0644);
        return dispatch({"-a", "plain", "run", "x"}, {}, path);
    };
    for (const auto& [line, problem] :
         {std::pair{"read = [\"relative/path\"]", "must be an absolute path"},
          std::pair{"read = [\"/nonexistent-fl-path\"]", "No such file or directory"},
          std::pair{"read = [\"/home\"]", "would grant the user's home"},
          std::pair{"write = [\"~/\"]", "would grant the user's home"},
          std::pair{"read = [\"~/.ssh\"]", "is in a dotfile of the user's home"},
          std::pair{"write = [\"~/.local/state/fleet-dispatch/runs\"]", "would grant the runs"},
          std::pair{"workdir = \"/\"", "would grant the user's home"}}) {
        const ProcessResult result = with(line);
        EXPECT_EQ(result.exit_code, 2) << line << "\n" << result.err;
        EXPECT_NE(result.err.find(problem), std::string::npos) << line << "\n" << result.err;
        EXPECT_NE(result.err.find("agents.plain."), std::string::npos) << result.err;
    }
    const ProcessResult accepted = with("read = [\"/var/lib\"]\nwrite = [\"" + s_dir +
                                        "\"]\ntcp_connect = [443]\nconfine = \"required\"");
    EXPECT_EQ(accepted.exit_code, fleet::landlock_abi() >= 6 ? 0 : 3) << accepted.err;
    // `dispatch config` shows them as they are in force.
    const ProcessResult shown = dispatch({"config"}, {}, s_dir + "/paths.toml");
    EXPECT_EQ(shown.exit_code, 0) << shown.err;
    for (const std::string& line :
         {std::string("confine = \"auto\"\n"), std::string("read = [\"/var/lib\"]\n"),
          "write = [\"" + s_dir + "\"]\n", std::string("tcp_connect = [443]\n"),
          std::string("confine = \"required\"\n")}) {
        EXPECT_NE(shown.out.find(line), std::string::npos) << line << shown.out;
    }
}

} // namespace
