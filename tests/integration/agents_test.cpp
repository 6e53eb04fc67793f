// Integration tests for the five built-in agents, unified runs, the old script names and
// secrets: dispatch run as root against fake CLIs (tests/fakes/) that mimic each real CLI's
// flags, output, exit codes and signal behaviour as documented.
#include <filesystem>
#include <fstream>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/accounts.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using fleet::test::Accounts;
using fleet::test::ProcessResult;
using fleet::test::read_file;
using fleet::test::run_id_of;
using fleet::test::write_file;
using nlohmann::json;

namespace {

const std::string k_dispatch = DISPATCH_PATH;
const std::vector<std::string> k_agents = {"claude", "aider", "codex", "gemini", "grok"};

class Agents : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        s_accounts = new Accounts();
        s_user = Accounts::unique_name("g");
        s_accounts->add_user(s_user);
        s_home = "/home/" + s_user;
        char pattern[] = "/tmp/fl-agents-test-XXXXXX";
        s_dir = mkdtemp(pattern);
        chmod(s_dir.c_str(), 0755);
        s_fakes = s_dir + "/fakes";
        fs::create_directory(s_fakes);
        chmod(s_fakes.c_str(), 0755);
        for (const auto& entry : fs::directory_iterator(FAKES_DIR)) {
            const std::string to = s_fakes + "/" + entry.path().filename().string();
            fs::copy_file(entry.path(), to);
            chmod(to.c_str(), entry.path().filename() == "common.sh" ? 0644 : 0755);
        }
        fs::copy_file(DEMO_AGENT_PATH, s_dir + "/demo-agent");
        chmod((s_dir + "/demo-agent").c_str(), 0755);
    }
    static void TearDownTestSuite() {
        delete s_accounts;
        fs::remove_all(s_dir);
    }

    // A config whose agents find the fakes on their PATH; `modes` sets FAKE_MODE per agent.
    static std::string config(const std::map<std::string, std::string>& modes,
                              const std::string& extra = "", const std::string& top = "") {
        std::string text =
            "user = \"" + s_user + "\"\ngrace = \"1s\"\npath = [\"" + s_fakes + "\"]\n" + top;
        for (const std::string& agent : k_agents) {
            const auto mode = modes.find(agent);
            text += "[agents." + agent + "]\nenv = { FAKE_MODE = \"" +
                    (mode == modes.end() ? "ok" : mode->second) + "\" }\n";
        }
        text += extra;
        std::string path = s_dir + "/config-" + std::to_string(++s_configs) + ".toml";
        write_file(path, text, 0644);
        return path;
    }

    static ProcessResult dispatch(const std::string& config_path,
                                  const std::vector<std::string>& args,
                                  const std::string& program = k_dispatch) {
        std::vector<std::string> argv = {program, "-c", config_path};
        argv.insert(argv.end(), args.begin(), args.end());
        return fleet::test::run(argv);
    }

    static json status_of(const std::string& config_path, const std::string& id) {
        return json::parse(dispatch(config_path, {"status", id, "--json"}).out);
    }

    static json agent_of(const json& status, const std::string& name) {
        for (const json& agent : status["agents"]) {
            if (agent["name"] == name) {
                return agent;
            }
        }
        return json();
    }

    static std::string work(const std::string& id, const std::string& agent) {
        return s_home + "/.local/state/fleet-dispatch/runs/" + id + "/work-" + agent;
    }

    static inline Accounts* s_accounts = nullptr;
    static inline std::string s_user, s_home, s_dir, s_fakes;
    static inline int s_configs = 0;
};

TEST_F(Agents, EachCliGetsItsHeadlessCommandAndThePromptIntact) {
    const std::string config_path = config({});
    std::string prompt = "it's \"quoted\" $(touch /tmp/x) `id` \\ -- -rf\nline two\n";
    while (prompt.size() < size_t{100} * 1024) {
        prompt += "filler line to reach one hundred KiB of prompt text\n";
    }
    const std::string prompt_file = s_dir + "/prompt.txt";
    write_file(prompt_file, prompt, 0644);
    const std::map<std::string, std::vector<std::string>> needed = {
        {"claude", {"-p", "--dangerously-skip-permissions", "stream-json", "--verbose"}},
        {"codex",
         {"exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
          "-"}},
        {"gemini", {"--yolo", "stream-json"}},
        {"grok", {"-p"}},
        {"aider", {"--message-file", "--yes-always", "--no-auto-commits"}},
    };
    for (const std::string& agent : k_agents) {
        SCOPED_TRACE(agent);
        const ProcessResult result =
            dispatch(config_path, {"-a", agent, "--prompt-file", prompt_file, "run"});
        ASSERT_EQ(result.exit_code, 0) << result.err << result.out.substr(0, 2000);
        const std::string id = run_id_of(result.out);
        EXPECT_EQ(agent_of(status_of(config_path, id), agent)["state"], "succeeded");
        EXPECT_EQ(read_file(work(id, agent) + "/prompt.got"), prompt);
        const std::string argv = read_file(work(id, agent) + "/argv.got");
        for (const std::string& arg : needed.at(agent)) {
            EXPECT_NE(argv.find(arg + "\n"), std::string::npos) << arg;
        }
        // Only grok takes the prompt in argv (it has no other way); the rest never do.
        EXPECT_EQ(argv.find("filler line") != std::string::npos, agent == "grok");
    }
}

TEST_F(Agents, UsageIsRecordedWhereTheCliReportsIt) {
    const std::string config_path = config({});
    const ProcessResult result = dispatch(config_path, {"-a", "claude,codex,gemini", "run", "x"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const json status = status_of(config_path, run_id_of(result.out));
    const json claude = agent_of(status, "claude")["usage"];
    EXPECT_EQ(claude["input_tokens"], 1200);
    EXPECT_EQ(claude["output_tokens"], 340);
    EXPECT_DOUBLE_EQ(claude["cost_usd"].get<double>(), 0.0125);
    EXPECT_EQ(claude["turns"], 3);
    EXPECT_EQ(agent_of(status, "codex")["usage"]["input_tokens"], 900);
    EXPECT_EQ(agent_of(status, "codex")["usage"]["output_tokens"], 55);
    EXPECT_EQ(agent_of(status, "gemini")["usage"]["output_tokens"], 100);
}

TEST_F(Agents, OutcomesComeFromWhatTheAgentSaid) {
    struct Case {
        std::string agent, mode, reason;
    };
    const std::vector<Case> cases = {
        {"claude", "api401", "API error 401"},
        {"claude", "maxturns", "max turns"},
        {"claude", "notloggedin", "not logged in"},
        {"claude", "noresult", "no result record in the output"}, // exit 0, yet no verdict
        {"codex", "api401", "API error 401"},
        {"gemini", "api401", "API error 401"}, // exit 145 = 401 mod 256
        {"grok", "error", "API error 401"},
        {"grok", "api401", "API error 401"}, // exit 0: the apology is the only sign
        {"aider", "error", "API error 401"}, // aider exits 0 here
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.agent + " " + c.mode);
        const std::string config_path = config({{c.agent, c.mode}});
        const ProcessResult result = dispatch(config_path, {"-a", c.agent, "run", "x"});
        EXPECT_EQ(result.exit_code, 1) << result.err;
        const json agent = agent_of(status_of(config_path, run_id_of(result.out)), c.agent);
        EXPECT_EQ(agent["state"], "failed");
        EXPECT_EQ(agent["reason"], c.reason);
    }
}

TEST_F(Agents, GrokExitingZeroOnTermAfterATimeoutIsTimedOut) {
    const std::string config_path = config({{"grok", "hang"}}, "timeout = \"1s\"\n");
    const ProcessResult result = dispatch(config_path, {"-a", "grok", "run", "x"});
    EXPECT_EQ(result.exit_code, 124) << result.err;
    const json agent = agent_of(status_of(config_path, run_id_of(result.out)), "grok");
    EXPECT_EQ(agent["state"], "timed_out");
    EXPECT_EQ(agent["exit_code"], 0) << "the fake should exit 0 on TERM, as grok does";
}

TEST_F(Agents, ClaudeNeverSeesRoot) {
    // Control: the fake refuses bypass mode as root, as Claude Code does.
    const ProcessResult as_root =
        fleet::test::run({"/bin/sh", "-c",
                          "cd " + s_dir + " && " + s_fakes +
                              "/claude -p --dangerously-skip-permissions </dev/null"});
    EXPECT_EQ(as_root.exit_code, 1);
    EXPECT_NE(as_root.err.find("cannot be used with root"), std::string::npos);
    const std::string config_path = config({});
    EXPECT_EQ(dispatch(config_path, {"-a", "claude", "run", "x"}).exit_code, 0);
}

// In the agent's own home (dispatch/agent_access.hpp), never the user's dotfiles.
TEST_F(Agents, GeminiWithABaseUrlGetsItsAuthSetting) {
    const std::string gemini = s_home + "/.local/state/fleet-dispatch/agents/gemini/.gemini";
    fs::remove_all(gemini);
    // base_url lives under [agents.gemini]: write a config by hand.
    const std::string with_url = s_dir + "/gemini-url.toml";
    write_file(with_url,
               "user = \"" + s_user + "\"\npath = [\"" + s_fakes +
                   "\"]\n[agents.gemini]\nbase_url = \"http://127.0.0.1:9\"\n",
               0644);
    const ProcessResult result = dispatch(with_url, {"-a", "gemini", "run", "x"});
    EXPECT_EQ(result.exit_code, 0) << result.out;
    EXPECT_NE(read_file(gemini + "/settings.json").find("gemini-api-key"), std::string::npos);
    EXPECT_FALSE(fs::exists(s_home + "/.gemini"));
    // Control: a settings file without it (the user's own) is left alone, and gemini fails
    // with its auth exit code, which dispatch names.
    write_file(gemini + "/settings.json", "{}\n", 0600);
    const ProcessResult refused = dispatch(with_url, {"-a", "gemini", "run", "x"});
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_EQ(agent_of(status_of(with_url, run_id_of(refused.out)), "gemini")["reason"],
              "auth error");
    fs::remove_all(gemini);
}

TEST_F(Agents, TheOldScriptNamesStillWork) {
    const std::string config_path =
        config({}, "", "unified = [\"claude\", \"codex\", \"gemini\"]\n");
    const std::string bin = s_dir + "/bin";
    fs::create_directories(bin);
    const std::map<std::string, std::vector<std::string>> names = {
        {"dispatch", {"claude"}},      {"dispatch-aider", {"aider"}},
        {"dispatch-codex", {"codex"}}, {"dispatch-gemini", {"gemini"}},
        {"dispatch-grok", {"grok"}},   {"dispatch-unified", {"claude", "codex", "gemini"}},
    };
    for (const auto& [name, agents] : names) {
        for (const std::string suffix : {"", ".sh"}) {
            SCOPED_TRACE(name + suffix);
            const std::string link = bin + "/" + name + suffix;
            fs::remove(link);
            fs::create_symlink(k_dispatch, link);
            // The old SSM command shape: SCRIPT TASK "PROMPT".
            const ProcessResult result = dispatch(config_path, {"run", "a prompt"}, link);
            EXPECT_EQ(result.exit_code, 0) << result.err;
            std::vector<std::string> ran;
            const json status = status_of(config_path, run_id_of(result.out));
            for (const json& agent : status["agents"]) {
                ran.push_back(agent["name"]);
            }
            EXPECT_EQ(ran, agents);
        }
    }
}

TEST_F(Agents, UnifiedWithOneMissingOneFailingOneSucceeding) {
    const std::string config_path = s_dir + "/unified.toml";
    write_file(config_path,
               "user = \"" + s_user + "\"\ngrace = \"1s\"\npath = [\"" + s_fakes +
                   "\"]\nunified = [\"claude\", \"codex\", \"aider\"]\n"
                   "[agents.codex]\nenv = { FAKE_MODE = \"api401\" }\n"
                   "[agents.aider]\nbinary = \"/nonexistent/aider\"\n",
               0644);
    const std::string link = s_dir + "/dispatch-unified.sh";
    fs::remove(link);
    fs::create_symlink(k_dispatch, link);
    const ProcessResult result = dispatch(config_path, {"blueprint", "x"}, link);
    EXPECT_EQ(result.exit_code, 1) << result.err;
    const json status = status_of(config_path, run_id_of(result.out));
    EXPECT_EQ(agent_of(status, "claude")["state"], "succeeded");
    EXPECT_EQ(agent_of(status, "codex")["state"], "failed");
    EXPECT_EQ(agent_of(status, "aider")["state"], "skipped");
    EXPECT_NE(result.out.find("skipped"), std::string::npos);

    // Control: missing agents alone do not fail a unified run.
    write_file(config_path,
               "user = \"" + s_user + "\"\npath = [\"" + s_fakes +
                   "\"]\nunified = [\"claude\", \"aider\"]\n"
                   "[agents.aider]\nbinary = \"/nonexistent/aider\"\n",
               0644);
    EXPECT_EQ(dispatch(config_path, {"run", "x"}, link).exit_code, 0);
    // But a missing agent named with -a is a failure to start.
    EXPECT_EQ(dispatch(config_path, {"-a", "aider", "run", "x"}).exit_code, 1);
}

TEST_F(Agents, BlueprintIsCollectedNextToTheLog) {
    const std::string config_path = config({}, "[agents.demo]\ncommand = [\"" + s_dir +
                                                   "/demo-agent\", \"{prompt}\"]\n"
                                                   "env = { DEMO_AGENT_DELAY = \"0\" }\n");
    const ProcessResult result =
        dispatch(config_path, {"-a", "demo,claude", "blueprint", "three tasks please"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const std::string id = run_id_of(result.out);
    const json status = status_of(config_path, id);
    const std::string run_dir = s_home + "/.local/state/fleet-dispatch/runs/" + id;
    EXPECT_EQ(agent_of(status, "demo")["artifact"], run_dir + "/demo.blueprint.md");
    EXPECT_NE(read_file(run_dir + "/demo.blueprint.md").find("3. "), std::string::npos);
    // The claude fake writes no blueprint: nothing is collected, and the run still succeeds.
    EXPECT_TRUE(agent_of(status, "claude")["artifact"].is_null());
    // The template wrapped the prompt.
    EXPECT_NE(read_file(run_dir + "/prompt.txt").find("blueprint.md"), std::string::npos);
    EXPECT_NE(read_file(run_dir + "/prompt.txt").find("three tasks please"), std::string::npos);
}

TEST_F(Agents, SecretsReachAgentsOnlyThroughTheEnvironment) {
    const std::string secret = "sk-ant-test-0123456789abcdef";
    const std::string env_file = s_dir + "/claude.env";
    write_file(env_file, "# keys\nexport ANTHROPIC_API_KEY=\"" + secret + "\"\n", 0600);
    const std::string config_path = s_dir + "/secret.toml";
    write_file(config_path,
               "user = \"" + s_user + "\"\npath = [\"" + s_fakes + "\"]\n[agents.claude]\n" +
                   "env_file = \"" + env_file + "\"\n",
               0644);
    const ProcessResult result = dispatch(config_path, {"-a", "claude", "run", "x"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("api key: set"), std::string::npos) << "the agent got no key";
    EXPECT_EQ(result.out.find(secret), std::string::npos);
    const std::string run_dir =
        s_home + "/.local/state/fleet-dispatch/runs/" + run_id_of(result.out);
    for (const auto& entry : fs::recursive_directory_iterator(run_dir)) {
        if (entry.is_regular_file()) {
            EXPECT_EQ(read_file(entry.path()).find(secret), std::string::npos) << entry.path();
        }
    }
    const ProcessResult shown = dispatch(config_path, {"config"});
    EXPECT_EQ(shown.exit_code, 0) << shown.err;
    EXPECT_NE(shown.out.find("ANTHROPIC_API_KEY = \"<redacted>\""), std::string::npos);
    EXPECT_EQ(shown.out.find(secret), std::string::npos);

    // An env_file others can read is refused, with nothing run; control above passed.
    chmod(env_file.c_str(), 0644);
    const ProcessResult refused = dispatch(config_path, {"-a", "claude", "run", "x"});
    EXPECT_EQ(refused.exit_code, 2);
    EXPECT_NE(refused.err.find("too open (chmod o-rwx it)"), std::string::npos) << refused.err;
    EXPECT_EQ(refused.out, "");
    chmod(env_file.c_str(), 0600);

    // Root reads it before the drop: never through a symlink (one to a root-only file of
    // KEY=VALUE lines would hand that file to the agent), never from a directory the user
    // could write (the file could be swapped), never a FIFO (root would hang).
    const std::string user_dir = s_home + "/keys";
    fs::create_directories(user_dir);
    fs::copy_file(env_file, user_dir + "/claude.env");
    const uid_t uid = fleet::test::uid_of(s_user);
    ASSERT_EQ(chown(user_dir.c_str(), uid, static_cast<gid_t>(-1)), 0);
    const std::string link = s_dir + "/link.env";
    fs::create_symlink(env_file, link);
    const std::string fifo = s_dir + "/fifo.env";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    for (const std::string& planted : {user_dir + "/claude.env", link, fifo}) {
        const std::string planted_config = s_dir + "/planted.toml";
        write_file(planted_config,
                   "user = \"" + s_user + "\"\npath = [\"" + s_fakes + "\"]\n[agents.claude]\n" +
                       "env_file = \"" + planted + "\"\n",
                   0644);
        const ProcessResult planted_run = dispatch(planted_config, {"-a", "claude", "run", "x"});
        EXPECT_EQ(planted_run.exit_code, 2) << planted << ": " << planted_run.err;
        EXPECT_EQ(planted_run.out, "") << planted;
    }
    fs::remove_all(user_dir);
    fs::remove(link);
    fs::remove(fifo);
    EXPECT_EQ(dispatch(config_path, {"-a", "claude", "run", "x"}).exit_code, 0); // control
}

TEST_F(Agents, AgentsListsBinariesAndVersions) {
    const std::string config_path = s_dir + "/list.toml";
    write_file(config_path,
               "user = \"" + s_user + "\"\npath = [\"" + s_fakes + "\"]\n[agents.grok]\n" +
                   "binary = \"/nonexistent/grok\"\n",
               0644);
    const ProcessResult result = dispatch(config_path, {"agents"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find(s_fakes + "/claude"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("claude 9.9.9"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("/nonexistent/grok not found"), std::string::npos) << result.out;
}

} // namespace
