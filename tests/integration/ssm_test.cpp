// Integration tests for what deploy/ puts between AWS and dispatch: the SSM Command document
// deploy/ssm/FleetDispatch.yaml, run the way the SSM agent runs it (tests/ssm/ssm-agent-sim: sh
// not bash, as root, no HOME, SSM's PATH, parameters as SSM_* variables, stdin /dev/null, an
// unreadable cwd), and the SSM agent's systemd drop-in checked by systemd-analyze verify.
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
                          "unified = [\"claude\", \"codex\"]\npath = [\"" + s_root + "/fakes\"]\n",
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

    static ProcessResult
    send_command(const std::vector<std::pair<std::string, std::string>>& params) {
        std::vector<std::string> argv{k_simulator,     k_document, "--cwd",
                                      s_root + "/cwd", "--work",   s_root + "/orchestration"};
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
    // An old agent substitutes {{ }} and sets no SSM_* variables: the script stops before
    // any prompt could be parsed by the shell.
    std::string document = read_file(k_document);
    size_t at = 0;
    while ((at = document.find("interpolationType: ENV_VAR", at)) != std::string::npos) {
        document.replace(at, 26, "description: \"old agent\"");
    }
    const std::string old = s_root + "/old-agent.yaml";
    write_file(old, document, 0644);
    RunOptions options;
    options.env = std::vector<std::string>{};
    const ProcessResult result =
        fleet::test::run({k_simulator, old, "--cwd", s_root + "/cwd", "--work",
                          s_root + "/orchestration", "--param", "prompt=$(id)"},
                         options);
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("3.3.2746.0"), std::string::npos) << result.err;
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
