// make e2e: the real agent CLIs (tests/e2e/clis.lock, installed by install-clis into
// $FLEET_E2E_CACHE) driven by dispatch, as root, through the old dispatch-unified.sh name,
// against the loopback model API (api-stub). An agent whose CLI is not in the cache is skipped.
// Asserts, per agent: it wrote its marker with its own tool as the target user, its run is
// succeeded with usage recorded; on a repository, it edited its own clone and its branch reached
// the origin; 401 and 500 give failed with a reason, a hanging API gives
// timed_out; no process of a run survives it.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/accounts.hpp"
#include "support/files.hpp"
#include "support/process.hpp"
#include "sys/landlock.hpp"

namespace fs = std::filesystem;
using fleet::test::Accounts;
using fleet::test::ProcessResult;
using fleet::test::read_file;
using fleet::test::RunOptions;
using fleet::test::write_file;
using nlohmann::json;

namespace {

const std::string k_stub = std::string(FLEET_SOURCE_DIR) + "/tests/e2e/api-stub";

std::string cache_bin() {
    const char* cache = std::getenv("FLEET_E2E_CACHE");
    return cache != nullptr ? std::string(cache) + "/node_modules/.bin" : "";
}

// One api-stub process in one mode, on a free port.
class Stub {
public:
    Stub(const std::string& mode, const std::string& log) {
        m_started = fleet::test::start({k_stub, "--mode", mode, "--log", log});
        std::string line;
        char c = 0;
        while (::read(m_started.out_fd, &c, 1) == 1 && c != '\n') {
            line += c;
        }
        m_port = std::stoi(line.substr(line.find(' ') + 1));
    }
    Stub(const Stub&) = delete;
    Stub& operator=(const Stub&) = delete;
    ~Stub() {
        ::kill(m_started.pid, SIGTERM);
        fleet::test::finish(m_started);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }

private:
    fleet::test::Started m_started;
    int m_port = 0;
};

class E2e : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        s_root = fleet::test::make_root_scratch("e2e-test");
        fs::create_directories(s_root + "/bin");
        fs::copy_file(DISPATCH_PATH, s_root + "/bin/dispatch");
        fs::create_symlink(s_root + "/bin/dispatch", s_root + "/bin/dispatch-unified.sh");
        s_accounts = new Accounts();
        s_user = Accounts::unique_name("e");
        s_accounts->add_user(s_user);
        s_home = "/home/" + s_user;
    }

    static void TearDownTestSuite() {
        delete s_accounts;
        fs::remove_all(s_root);
    }

    // The CLIs of the cache this run can use.
    static std::vector<std::string> agents() {
        std::vector<std::string> found;
        for (const char* agent : {"claude", "codex", "gemini", "grok"}) {
            if (!cache_bin().empty() && fs::exists(cache_bin() + "/" + agent)) {
                found.emplace_back(agent);
            }
        }
        return found;
    }

    // A config that points every agent at `base_url` with a dummy key; `workdir`, when set, is
    // every
    // agent's working directory (Gemini writes only inside its workspace).
    static std::string write_config(const std::string& base_url,
                                    const std::vector<std::string>& names,
                                    const std::string& timeout, const std::string& workdir) {
        std::string text = "user = \"" + s_user + "\"\ngrace = \"2s\"\npath = [\"" + cache_bin() +
                           "\"]\nunified = [";
        for (size_t i = 0; i < names.size(); ++i) {
            text += (i == 0 ? "\"" : ", \"") + names[i] + "\"";
        }
        text += "]\n";
        const std::pair<const char*, const char*> keys[] = {
            {"claude", "ANTHROPIC_API_KEY = \"stub\", CLAUDE_CODE_MAX_RETRIES = \"0\", "
                       "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\""},
            {"codex", "CODEX_API_KEY = \"stub\""},
            {"gemini", "GEMINI_API_KEY = \"stub\", GEMINI_CLI_TRUST_WORKSPACE = \"true\""},
            {"grok", "GROK_API_KEY = \"stub\""}};
        for (const auto& [agent, env] : keys) {
            text += std::string("[agents.") + agent + "]\nbase_url = \"" + base_url +
                    (std::string(agent) == "codex" || std::string(agent) == "grok" ? "/v1" : "") +
                    "\"\nmodel = \"stub-model\"\ntimeout = \"" + timeout + "\"\nenv = { " + env +
                    " }\n" + (workdir.empty() ? "" : "workdir = \"" + workdir + "\"\n");
        }
        std::string path = s_root + "/config-" + std::to_string(++s_configs) + ".toml";
        write_file(path, text, 0644);
        return path;
    }

    static ProcessResult dispatch_unified(const std::string& config, const std::string& prompt,
                                          const std::vector<std::string>& options = {}) {
        RunOptions ssm;
        ssm.env = std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin",
                                           "FLEET_DISPATCH_CONFIG=" + config};
        ssm.cwd = s_root;
        ssm.timeout_seconds = 300;
        std::vector<std::string> argv = {s_root + "/bin/dispatch-unified.sh"};
        argv.insert(argv.end(), options.begin(), options.end());
        argv.insert(argv.end(), {"run", prompt});
        return fleet::test::run(argv, ssm);
    }

    static json status_of(const std::string& config, const std::string& id) {
        return json::parse(
            fleet::test::run_ok({s_root + "/bin/dispatch", "-c", config, "status", id, "--json"}));
    }

    static inline std::string s_root, s_user, s_home;
    static inline Accounts* s_accounts = nullptr;
    static inline int s_configs = 0;
};

TEST_F(E2e, EachAgentWritesItsFileAsTheUserAndSucceeds) {
    const std::vector<std::string> names = agents();
    if (names.empty()) {
        GTEST_SKIP() << "no agent CLI in $FLEET_E2E_CACHE (make e2e installs them)";
    }
    const std::string log = s_root + "/normal.jsonl";
    const Stub stub("normal", log);
    const std::string out = s_home + "/e2e-out";
    fleet::test::run_ok({"/usr/sbin/runuser", "-u", s_user, "--", "mkdir", "-p", out});
    const std::string config = write_config(stub.url(), names, "3m", out);
    const ProcessResult result =
        dispatch_unified(config, "Write the marker file. MARKER_DIR:" + out);
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    const std::string id = fleet::test::run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out;
    const json status = status_of(config, id);
    for (const std::string& agent : names) {
        SCOPED_TRACE(agent);
        const std::string marker = out + "/" + agent + ".txt";
        struct stat info {};
        ASSERT_EQ(stat(marker.c_str(), &info), 0)
            << read_file(s_home + "/.local/state/fleet-dispatch/runs/" + id + "/" + agent + ".log");
        EXPECT_EQ(info.st_uid, fleet::test::uid_of(s_user)); // its own tool, as the user
        EXPECT_EQ(read_file(marker), "STUB-MARKER\n");
        for (const json& entry : status["agents"]) {
            if (entry["name"] == agent) {
                EXPECT_EQ(entry["state"], "succeeded") << entry.dump();
                // Confined (docs/dispatch.md, "What an agent can and cannot do"), and still
                // working: the real CLI in its Landlock domain, its state in its own home.
                if (fleet::landlock_abi() >= 6) {
                    EXPECT_EQ(entry["confinement"]["level"], "full") << entry.dump();
                }
                EXPECT_EQ(status["confinement"]["pid_namespace"], true) << status.dump();
                // Grok's headless output carries no token counts; the others' do.
                if (agent != "grok") {
                    ASSERT_TRUE(entry.contains("usage")) << entry.dump();
                    EXPECT_GT(entry["usage"].value("input_tokens", 0), 0) << entry.dump();
                    EXPECT_GT(entry["usage"].value("output_tokens", 0), 0) << entry.dump();
                }
            }
        }
    }
    EXPECT_TRUE(fleet::test::survivors(id).empty());
}

// The repository task (docs/dispatch.md, "Working on a repository"): each CLI, confined, edits
// README.md of its own clone with its own tool; the run records each agent's diff, and its
// branch is in the origin with the edit.
TEST_F(E2e, EachAgentEditsItsOwnCloneAndItsBranchReachesTheOrigin) {
    const std::vector<std::string> names = agents();
    if (names.empty()) {
        GTEST_SKIP() << "no agent CLI in $FLEET_E2E_CACHE (make e2e installs them)";
    }
    const std::string origin = s_home + "/app";
    const std::string script =
        "git init -q -b main \"$0\" && cd \"$0\" && echo '# app' >README.md && "
        "git add README.md && git -c user.name=t -c user.email=t@x commit -qm init";
    fleet::test::run_ok({"/usr/sbin/runuser", "-u", s_user, "--", "/bin/sh", "-c", script, origin});
    const Stub stub("normal", s_root + "/repo.jsonl");
    const std::string config = write_config(stub.url(), names, "3m", "");
    const ProcessResult result =
        dispatch_unified(config, "Edit the readme. REPO_EDIT", {"--repo", origin + "@main"});
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    const std::string id = fleet::test::run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out;
    const json status = status_of(config, id);
    const std::string runs = s_home + "/.local/state/fleet-dispatch/runs/" + id;
    EXPECT_EQ(status["agents"].size(), names.size()) << status.dump();
    for (const json& entry : status["agents"]) {
        const std::string agent = entry["name"];
        SCOPED_TRACE(agent);
        const json repo = entry.value("repo", json::object());
        EXPECT_EQ(repo.value("changed", false), true) << entry.dump();
        EXPECT_EQ(repo.value("in_origin", false), true) << entry.dump();
        EXPECT_NE(read_file(runs + "/" + agent + ".diff").find("+STUB-EDIT by " + agent),
                  std::string::npos)
            << read_file(runs + "/" + agent + ".log");
        const std::string branch = "fleet/" + id + "/" + agent;
        EXPECT_EQ(fleet::test::run_ok({"/usr/sbin/runuser", "-u", s_user, "--", "/usr/bin/git",
                                       "-C", origin, "show", branch + ":README.md"}),
                  "STUB-EDIT by " + agent + "\n");
        if (fleet::landlock_abi() >= 6) {
            EXPECT_EQ(entry["confinement"]["level"], "full") << entry.dump();
        }
    }
    EXPECT_TRUE(fleet::test::survivors(id).empty());
}

// 401: failed, with the reason the CLI gave. 500: failed, or timed_out for a CLI that keeps
// retrying a server error (Gemini backs off past any short timeout). A hanging API: timed_out.
// In every case no process of the run outlives it (Gemini's relaunched child included).
TEST_F(E2e, FailuresAreReportedAndNothingSurvives) {
    const std::vector<std::string> names = agents();
    if (names.empty()) {
        GTEST_SKIP() << "no agent CLI in $FLEET_E2E_CACHE (make e2e installs them)";
    }
    for (const std::string mode : {"401", "500", "hang"}) {
        SCOPED_TRACE(mode);
        const Stub stub(mode, s_root + "/" + mode + ".jsonl");
        const std::string config =
            write_config(stub.url(), names, mode == "401" ? "2m" : "30s", "");
        const ProcessResult result = dispatch_unified(config, "Say hello.");
        EXPECT_NE(result.exit_code, 0) << result.out;
        const std::string id = fleet::test::run_id_of(result.out);
        ASSERT_FALSE(id.empty()) << result.out << result.err;
        const json status = status_of(config, id);
        for (const json& entry : status["agents"]) {
            SCOPED_TRACE(entry["name"].get<std::string>());
            const std::string state = entry["state"];
            if (mode == "hang") {
                EXPECT_EQ(state, "timed_out") << entry.dump();
            } else if (mode == "401" || state != "timed_out") {
                EXPECT_EQ(state, "failed") << entry.dump();
                EXPECT_FALSE(entry.value("reason", "").empty()) << entry.dump();
            }
        }
        EXPECT_TRUE(fleet::test::survivors(id).empty()) << mode;
    }
}

} // namespace
