// Integration tests for what deploy/ puts between AWS and dispatch: the SSM Command documents
// deploy/ssm/FleetDispatch.yaml (start a run) and FleetDispatch-Follow.yaml (status, logs, wait,
// cancel), run the way the SSM agent runs them (tests/ssm/ssm-agent-sim: sh not bash, as root,
// no HOME, SSM's PATH, parameters as SSM_* variables, stdin /dev/null, an unreadable cwd), and
// the SSM agent's systemd drop-in checked by systemd-analyze verify. FleetDispatch-Install.yaml
// is ssm_install.cpp's.
//
// dispatch is found as SSM finds it, on SSM's PATH: the suite links /usr/local/bin/dispatch and
// dispatch-unified to the build and writes /etc/fleet-dispatch/config.toml, when neither belongs
// to a real installation (otherwise the document tests are skipped).
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/accounts.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using fleet::test::Accounts;
using fleet::test::ProcessResult;
using fleet::test::read_file;
using fleet::test::RunOptions;
using fleet::test::write_file;

namespace {

const std::string k_source = FLEET_SOURCE_DIR;
const std::string k_dispatch_build = DISPATCH_PATH;
const std::string k_document = k_source + "/deploy/ssm/FleetDispatch.yaml";
const std::string k_follow = k_source + "/deploy/ssm/FleetDispatch-Follow.yaml";
const std::string k_simulator = k_source + "/tests/ssm/ssm-agent-sim";
constexpr const char* k_config = "/etc/fleet-dispatch/config.toml";

class SsmDocument : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        s_root = fleet::test::make_root_scratch("ssm-test");
        fs::create_directories(s_root + "/bin");
        fs::create_directories(s_root + "/cwd"); // root's 0700: the user cannot read it
        chmod((s_root + "/cwd").c_str(), 0700);
        fs::copy_file(k_dispatch_build, s_root + "/bin/dispatch");
        fleet::test::copy_executables(FAKES_DIR, s_root + "/fakes");
        s_accounts = new Accounts();
        s_user = Accounts::unique_name("m");
        s_accounts->add_user(s_user);
        s_home = "/home/" + s_user;
        s_owned = !fs::exists("/usr/local/bin/dispatch") &&
                  !fs::exists("/usr/local/bin/dispatch-unified") && !fs::exists(k_config);
        if (!s_owned) {
            return;
        }
        fs::create_directories("/usr/local/bin");
        fs::create_symlink(s_root + "/bin/dispatch", "/usr/local/bin/dispatch");
        fs::create_symlink(s_root + "/bin/dispatch", "/usr/local/bin/dispatch-unified");
        s_placed.directory("/etc/fleet-dispatch");
        s_placed.file(k_config,
                      "user = \"" + s_user + "\"\ngrace = \"1s\"\ndefault_agent = \"claude\"\n" +
                          "unified = [\"claude\", \"codex\"]\npath = [\"" + s_root + "/fakes\"]\n" +
                          // A run that goes on until cancelled, and one with a long log.
                          "[agents.hang]\ncommand = [\"" + s_root + "/fakes/claude\", \"-p\"]\n" +
                          "stdin = \"prompt\"\nenv = { FAKE_MODE = \"hang\" }\n" +
                          "[agents.count]\ncommand = [\"/usr/bin/seq\", \"3000\"]\n",
                      0644);
    }

    static void TearDownTestSuite() {
        if (s_owned) {
            fs::remove("/usr/local/bin/dispatch");
            fs::remove("/usr/local/bin/dispatch-unified");
            s_placed.put_back();
        }
        delete s_accounts;
        fs::remove_all(s_root);
    }

    void SetUp() override {
        if (!s_owned) {
            GTEST_SKIP() << "/usr/local/bin/dispatch or " << k_config
                         << " belongs to a real installation";
        }
    }

    using Params = std::vector<std::pair<std::string, std::string>>;

    static ProcessResult send_command(const Params& params) { return send(k_document, params); }

    static ProcessResult follow(const Params& params) { return send(k_follow, params); }

    static ProcessResult send(const std::string& document, const Params& params) {
        std::vector<std::string> argv{k_simulator,     document, "--cwd",
                                      s_root + "/cwd", "--work", s_root + "/orchestration"};
        for (const auto& [name, value] : params) {
            argv.push_back("--param");
            argv.push_back(name + "=" + value);
        }
        RunOptions options;
        options.env = std::vector<std::string>{}; // the simulator builds SSM's environment
        return fleet::test::run(argv, options);
    }

    static std::string run_id_of(const ProcessResult& result) {
        return fleet::test::run_id_of(result.out);
    }

    static std::string work(const std::string& id, const std::string& agent) {
        return s_home + "/.local/state/fleet-dispatch/runs/" + id + "/work-" + agent;
    }

    // A run started by dispatch itself, as root, not through SSM; its id.
    static std::string started(const std::vector<std::string>& args) {
        std::vector<std::string> argv{s_root + "/bin/dispatch"};
        argv.insert(argv.end(), args.begin(), args.end());
        const ProcessResult result = fleet::test::run(argv);
        EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
        return run_id_of(result);
    }

    static inline std::string s_root, s_user, s_home;
    static inline Accounts* s_accounts = nullptr;
    static inline bool s_owned = false;
    static inline fleet::test::PlacedPaths s_placed;
};

// Prompts that a shell would have mangled or executed reach the agent byte for byte.
TEST_F(SsmDocument, PromptsReachTheAgentByteForByte) {
    const std::string marker = s_root + "/pwned";
    const std::vector<std::string> prompts = {
        "Fix the \"failing\" test in 'tests/test_api.py'",
        "$(touch " + marker + ") `touch " + marker + "` ${HOME:?} $SSM_prompt",
        "line one\nline two; touch " + marker + "\n\n  indented\ttab\n",
        "-p --dangerously-skip-permissions -- | & ; < > * ? [ ] ! # ~ \\n \\\\ 'unbalanced",
        "{{ prompt }} {{timeout}} %s %n \xc3\xa9\xe2\x9c\x93 \xf0\x9f\x9a\x80",
    };
    for (const std::string& prompt : prompts) {
        const ProcessResult result = send_command({{"prompt", prompt}});
        ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
        const std::string id = run_id_of(result);
        ASSERT_FALSE(id.empty()) << result.out;
        EXPECT_EQ(read_file(work(id, "claude") + "/prompt.got"), prompt);
        EXPECT_FALSE(fs::exists(marker));
    }
}

TEST_F(SsmDocument, ChoosesAgentsTaskTimeoutAndDetach) {
    ProcessResult result = send_command({{"prompt", "both"}, {"agents", "unified"}});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    std::string id = run_id_of(result);
    EXPECT_EQ(read_file(work(id, "claude") + "/prompt.got"), "both");
    EXPECT_EQ(read_file(work(id, "codex") + "/prompt.got"), "both");

    result = send_command({{"prompt", "one"}, {"agents", "codex"}, {"task", "run"}});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    id = run_id_of(result);
    EXPECT_TRUE(fs::exists(work(id, "codex") + "/prompt.got"));
    EXPECT_FALSE(fs::exists(work(id, "claude")));

    // The run records the timeout dispatch was given: 60 s under SSM's executionTimeout.
    result = send_command({{"prompt", "t"}, {"timeout", "600"}});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    id = run_id_of(result);
    EXPECT_NE(read_file(s_home + "/.local/state/fleet-dispatch/runs/" + id + "/run.json")
                  .find("\"timeout\": \"9m\""),
              std::string::npos)
        << read_file(s_home + "/.local/state/fleet-dispatch/runs/" + id + "/run.json");

    // Detached: SSM gets the run id at once; a second command follows the run.
    result = send_command({{"prompt", "later"}, {"detach", "true"}});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    id = run_id_of(result);
    ASSERT_FALSE(id.empty()) << result.out;
    const ProcessResult waited = fleet::test::run({s_root + "/bin/dispatch", "wait", id});
    EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err;
    EXPECT_EQ(read_file(work(id, "claude") + "/prompt.got"), "later");
}

// The repository parameter: the run works on a clone, and the branch is in the origin.
TEST_F(SsmDocument, RunsOnARepository) {
    const std::string origin = s_home + "/app";
    const std::string script =
        "git init -q -b main \"$0\" && cd \"$0\" && echo app >README.md && git add README.md "
        "&& git -c user.name=t -c user.email=t@x commit -qm init";
    fleet::test::run_ok({"/usr/sbin/runuser", "-u", s_user, "--", "/bin/sh", "-c", script, origin});
    const ProcessResult result = send_command({{"prompt", "edit"}, {"repo", origin + "@main"}});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    const std::string id = run_id_of(result);
    ASSERT_FALSE(id.empty()) << result.out;
    EXPECT_EQ(read_file(work(id, "claude") + "/prompt.got"), "edit"); // its clone
    EXPECT_EQ(
        fleet::test::run({"/usr/sbin/runuser", "-u", s_user, "--", "/usr/bin/git", "-C", origin,
                          "show-ref", "--verify", "-q", "refs/heads/fleet/" + id + "/claude"})
            .exit_code,
        0);
    fs::remove_all(origin);
}

TEST_F(SsmDocument, SsmRefusesParametersOutsideTheDocument) {
    for (const auto& [name, value] :
         std::vector<std::pair<std::string, std::string>>{{"agents", "claude;id"},
                                                          {"agents", "all"},
                                                          {"task", "-rf"},
                                                          {"task", "run; id"},
                                                          {"timeout", "4"},
                                                          {"timeout", "172801"},
                                                          {"timeout", "3600; id"},
                                                          {"detach", "yes"},
                                                          {"repo", "srv/app"}}) {
        const ProcessResult result = send_command({{"prompt", "x"}, {name, value}});
        EXPECT_EQ(result.exit_code, 2) << name << "=" << value << result.out;
        EXPECT_EQ(result.out, "");
    }
    EXPECT_EQ(send_command({{"prompt", "x"}, {"timeout", "172800"}}).exit_code, 0);
}

TEST_F(SsmDocument, RefusesToRunOnAnAgentWithoutEnvironmentInterpolation) {
    // An old agent substitutes {{ }} and sets no SSM_* variables: the scripts stop before any
    // prompt (or run id) could be parsed by the shell.
    const auto as_old_agent = [](const std::string& path) {
        std::string document = read_file(path);
        size_t at = 0;
        while ((at = document.find("interpolationType: ENV_VAR", at)) != std::string::npos) {
            document.replace(at, 26, "description: \"old agent\"");
        }
        const std::string old = s_root + "/old-agent.yaml";
        write_file(old, document, 0644);
        return old;
    };
    ProcessResult result = send(as_old_agent(k_document), {{"prompt", "$(id)"}});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("3.3.2746.0"), std::string::npos) << result.err;
    result =
        send(as_old_agent(k_follow), {{"action", "cancel"}, {"runId", "20260109-190805-dztnfw"}});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_EQ(result.out, "");
    EXPECT_NE(result.err.find("3.3.2746.0"), std::string::npos) << result.err;
}

// FleetDispatch-Follow: what needed AWS-RunShellScript (dispatch wait/status/logs/list) for a
// detached run, through a document with nothing but parameters.
TEST_F(SsmDocument, FollowsADetachedRun) {
    const ProcessResult sent = send_command({{"prompt", "later"}, {"detach", "true"}});
    ASSERT_EQ(sent.exit_code, 0) << sent.err;
    const std::string id = run_id_of(sent);
    ASSERT_FALSE(id.empty()) << sent.out;

    const ProcessResult waited = follow({{"action", "wait"}, {"runId", id}});
    EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err;
    EXPECT_EQ(waited.out, "run " + id + ": succeeded (exit 0)\n");
    const ProcessResult status = follow({{"runId", id}});
    EXPECT_EQ(status.exit_code, 0) << status.err;
    EXPECT_EQ(status.out.rfind("== run " + id + ": succeeded", 0), 0U) << status.out;
    const ProcessResult logs = follow({{"action", "logs"}, {"runId", id}});
    EXPECT_EQ(logs.exit_code, 0) << logs.err;
    EXPECT_NE(logs.out.find("{\"type\":\"result\",\"subtype\":\"success\""), std::string::npos)
        << logs.out;

    // No run id: the newest runs; a label: what one SSM command started, and nothing else.
    EXPECT_NE(follow({}).out.find(id + " "), std::string::npos);
    const std::string run_json =
        read_file(s_home + "/.local/state/fleet-dispatch/runs/" + id + "/run.json");
    const std::string key = "\"ssm_command_id\": \"";
    const size_t at = run_json.find(key);
    ASSERT_NE(at, std::string::npos) << run_json;
    const std::string command_id = run_json.substr(at + key.size(), 36);
    const ProcessResult mine = follow({{"label", "ssm-command-id=" + command_id}});
    EXPECT_EQ(mine.exit_code, 0) << mine.err;
    EXPECT_EQ(fleet::test::lines_of(mine.out).size(), 2U) << mine.out; // the header and the run
    EXPECT_NE(mine.out.find(id + " "), std::string::npos) << mine.out;
    const ProcessResult other =
        follow({{"label", "ssm-command-id=00000000-0000-4000-8000-000000000000"}});
    EXPECT_EQ(other.exit_code, 0) << other.err;
    EXPECT_EQ(other.out.find(id), std::string::npos) << other.out;
}

TEST_F(SsmDocument, FollowWaitsForAndCancelsARunningRun) {
    const std::string id = started({"--detach", "--timeout", "120s", "-a", "hang", "run", "x"});
    ASSERT_FALSE(id.empty());
    EXPECT_NE(follow({{"runId", id}}).out.find("== run " + id + ": running"), std::string::npos);
    // wait gives up 5 s before SSM's executionTimeout would kill it: 124, and the run goes on.
    const ProcessResult gave_up = follow({{"action", "wait"}, {"runId", id}, {"timeout", "10"}});
    EXPECT_EQ(gave_up.exit_code, 124) << gave_up.out << gave_up.err;
    EXPECT_NE(gave_up.err.find("still goes on"), std::string::npos) << gave_up.err;
    const ProcessResult cancelled = follow({{"action", "cancel"}, {"runId", id}});
    EXPECT_EQ(cancelled.exit_code, 0) << cancelled.out << cancelled.err;
    EXPECT_EQ(cancelled.out, "run " + id + ": cancelled\n");
    const ProcessResult waited = follow({{"action", "wait"}, {"runId", id}});
    EXPECT_EQ(waited.exit_code, 130) << waited.err;
    EXPECT_EQ(waited.out, "run " + id + ": cancelled (exit 130)\n");
    for (const pid_t pid : fleet::test::survivors(id)) {
        EXPECT_TRUE(fleet::test::gone_within(pid, 5)) << "pid " << pid << " of run " << id;
    }
}

// The console keeps 2,500 characters: logs prints the end of what was asked for, within 2,000
// bytes and saying so, unless output is full.
TEST_F(SsmDocument, FollowKeepsLogsWithinTheConsole) {
    const std::string id = started({"-a", "count", "run", "count"}); // seq 3000
    ASSERT_FALSE(id.empty());
    ProcessResult logs = follow({{"action", "logs"}, {"runId", id}, {"lines", "3"}});
    EXPECT_EQ(logs.exit_code, 0) << logs.err;
    EXPECT_EQ(logs.out, "2998\n2999\n3000\n");
    logs = follow({{"action", "logs"}, {"runId", id}, {"lines", "2000"}}); // 1001..3000: 10,000 B
    EXPECT_EQ(logs.exit_code, 0) << logs.err;
    const std::string note =
        "[FleetDispatch-Follow: the last 2000 of 10000 bytes; output=full prints them all]\n";
    EXPECT_EQ(logs.out.substr(0, note.size()), note);
    EXPECT_EQ(logs.out.size(), note.size() + 2000);
    EXPECT_TRUE(logs.out.ends_with("\n2999\n3000\n"));
    logs = follow({{"action", "logs"}, {"runId", id}, {"lines", "2000"}, {"output", "full"}});
    EXPECT_EQ(logs.exit_code, 0) << logs.err;
    EXPECT_EQ(logs.out.size(), 10000U);
    EXPECT_EQ(logs.out.substr(0, 5), "1001\n");
}

TEST_F(SsmDocument, FollowRefusesWhatIsNotARunIdOrNotItsToDo) {
    const ProcessResult sent = send_command({{"prompt", "x"}});
    ASSERT_EQ(sent.exit_code, 0) << sent.err;
    const std::string id = run_id_of(sent);
    ASSERT_FALSE(id.empty()) << sent.out;
    // SSM refuses these at send-command: nothing runs.
    for (const std::string& bad : std::vector<std::string>{
             "../" + id, id + "/../../../etc", id + ";id", id + " ", "$(id)", "-rf",
             "20260109-190805-DZTNFW", id.substr(0, 21), id + "a", "2026010-190805-dztnfw0"}) {
        for (const char* action : {"status", "logs", "wait", "cancel"}) {
            const ProcessResult result = follow({{"action", action}, {"runId", bad}});
            EXPECT_EQ(result.exit_code, 2) << action << " " << bad << result.out;
            EXPECT_EQ(result.out, "");
            EXPECT_NE(result.err.find("parameter runId"), std::string::npos) << result.err;
        }
    }
    for (const auto& [name, value] : Params{{"action", "prune"},
                                            {"action", "status;id"},
                                            {"agent", "-rf"},
                                            {"agent", "claude codex"},
                                            {"label", "ssm-command-id"},
                                            {"label", "k=$(id)"},
                                            {"lines", "0"},
                                            {"lines", "100000"},
                                            {"output", "raw"},
                                            {"timeout", "9"},
                                            {"timeout", "172801"}}) {
        const ProcessResult result = follow({{"runId", id}, {name, value}});
        EXPECT_EQ(result.exit_code, 2) << name << "=" << value << result.out;
        EXPECT_EQ(result.out, "");
    }
    // The controls: the run's own id, and each parameter at a value the document takes.
    EXPECT_EQ(follow({{"runId", id}}).exit_code, 0);
    const ProcessResult logs = follow({{"action", "logs"},
                                       {"runId", id},
                                       {"agent", "claude"},
                                       {"lines", "99999"},
                                       {"output", "full"},
                                       {"timeout", "10"}});
    EXPECT_EQ(logs.exit_code, 0) << logs.err;
    EXPECT_NE(logs.out.find("\"type\":\"result\""), std::string::npos) << logs.out;
    // A well-formed id that is no run's reaches dispatch, which says so.
    const ProcessResult unknown = follow({{"runId", "20000101-000000-aaaaaa"}});
    EXPECT_NE(unknown.exit_code, 0);
    EXPECT_NE(unknown.err.find("no run 20000101-000000-aaaaaa"), std::string::npos) << unknown.err;
    // The script's own refusals: logs, wait and cancel need a run; label only selects a list.
    for (const char* action : {"logs", "wait", "cancel"}) {
        const ProcessResult result = follow({{"action", action}});
        EXPECT_EQ(result.exit_code, 2);
        EXPECT_NE(result.err.find(std::string(action) + " needs a runId"), std::string::npos);
    }
    EXPECT_EQ(follow({{"runId", id}, {"label", "a=b"}}).exit_code, 2);
}

// The drop-in, on both unit names the SSM agent ships under, as systemd reads it.
TEST(SsmAgentDropIn, RestartsTheAgentAlwaysAfterTenSeconds) {
    char pattern[] = "/tmp/fleet-dropin-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    const std::string dir = pattern;
    const std::pair<std::string, std::string> units[] = {
        // the agent's packaging/linux/amazon-ssm-agent.service (docs/design/ssm.md §5),
        // ExecStart made runnable here
        {"amazon-ssm-agent.service",
         "[Unit]\nDescription=amazon-ssm-agent\nAfter=network-online.target\n\n[Service]\n"
         "Type=simple\nWorkingDirectory=/usr/bin/\nExecStart=/usr/bin/sleep infinity\n"
         "KillMode=process\nRestart=always\nRestartPreventExitStatus=194\nRestartSec=90\n\n"
         "[Install]\nWantedBy=multi-user.target\n"},
        // the snap's generated unit: restart-condition always, stop-timeout 60s
        {"snap.amazon-ssm-agent.amazon-ssm-agent.service",
         "[Unit]\nDescription=Service for snap application amazon-ssm-agent.amazon-ssm-agent\n"
         "\n[Service]\nExecStart=/usr/bin/sleep infinity\nRestart=always\nTimeoutStopSec=60s\n"
         "Type=simple\n\n[Install]\nWantedBy=multi-user.target\n"},
    };
    for (const auto& [unit, text] : units) {
        write_file(dir + "/" + unit, text, 0644);
        fs::create_directories(dir + "/" + unit + ".d");
        fs::copy_file(k_source + "/deploy/systemd/ssm-agent-restart.conf",
                      dir + "/" + unit + ".d/fleet-dispatch.conf");
        RunOptions options;
        options.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "SYSTEMD_LOG_LEVEL=debug"};
        const ProcessResult verify =
            fleet::test::run({"/usr/bin/systemd-analyze", "verify", dir + "/" + unit}, options);
        const std::string dump = verify.out + verify.err;
        EXPECT_EQ(verify.exit_code, 0) << dump;
        EXPECT_NE(dump.find("DropIn Path: " + dir + "/" + unit + ".d/fleet-dispatch.conf"),
                  std::string::npos)
            << dump;
        EXPECT_NE(dump.find("Restart: always"), std::string::npos);
        EXPECT_NE(dump.find("RestartSec: 10s"), std::string::npos) << unit;
        // Clean: nothing systemd would warn about at the normal log level.
        options.env = std::vector<std::string>{"PATH=/usr/bin:/bin"};
        const ProcessResult quiet =
            fleet::test::run({"/usr/bin/systemd-analyze", "verify", dir + "/" + unit}, options);
        EXPECT_EQ(quiet.exit_code, 0);
        EXPECT_EQ(quiet.out + quiet.err, "");
    }
    fs::remove_all(dir);
}

} // namespace
