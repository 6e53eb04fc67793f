// Integration tests for dispatch: the built binary, run as root against a throwaway user, with
// fake agents written as shell scripts. Every refusal has a control that passes.
#include <algorithm>
#include <chrono>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <set>
#include <signal.h>
#include <sstream>
#include <sys/mount.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/process.hpp"
#include "support/runner_fixture.hpp"

namespace fs = std::filesystem;
using fleet::test::ProcessResult;
using fleet::test::read_file;
using fleet::test::run_id_of;
using fleet::test::RunnerFixture;
using fleet::test::RunOptions;
using fleet::test::survivors;
using fleet::test::write_file;
using nlohmann::json;

namespace {

const std::string k_dispatch = DISPATCH_PATH;

class Dispatch : public RunnerFixture {
protected:
    static void SetUpTestSuite() {
        set_up_runner("d", "dispatch");
        fs::copy_file(FL_PROBE_PATH, s_dir + "/fl-probe");
        chmod((s_dir + "/fl-probe").c_str(), 0755);
        const std::vector<std::pair<std::string, std::string>> scripts = {
            {"write-arg", "printf '%s' \"$1\" > arg.bin\n"},
            {"write-stdin", "cat > stdin.bin\n"},
            {"copy-file", "cp \"$1\" file.bin\n"},
            {"exit-with", "exit \"$1\"\n"},
            {"kill-self", "kill -\"$1\" $$\nsleep 5\n"},
            {"cat-file", "exec cat \"$1\"\n"},
            {"quick", "echo quick\n"},
            // What an agent can do to the files the runner reads after it (issue 14, item 11).
            {"fifo-artifact", "mkfifo blueprint.md\necho made a fifo\n"},
            {"fifo-log", "rm -f \"$FLEET_DISPATCH_RUN_DIR/claude.log\"\n"
                         "mkfifo \"$FLEET_DISPATCH_RUN_DIR/claude.log\"\n"},
            {"fifo-prompt", "rm -f \"$FLEET_DISPATCH_RUN_DIR/prompt.txt\"\n"
                            "mkfifo \"$FLEET_DISPATCH_RUN_DIR/prompt.txt\"\n"},
            {"rewrite-prompt", "printf 'forged\\n' > \"$FLEET_DISPATCH_RUN_DIR/prompt.txt\"\n"},
            {"background-holder", "sleep 30 &\necho done\n"},
            {"setsid-holder", "setsid sleep 123 &\necho started\n"},
            {"sleeper", "echo started\nexec sleep 30\n"},
            {"family-sleeper", "sleep 31 &\nsetsid sleep 32 &\necho started\nsleep 30\n"},
            {"big-output", "head -c 4194304 /dev/zero | tr '\\0' x\n"},
            // Fills its pipe in one write(2) (1 MiB, eight of the runner's reads) that ends with
            // a line, then waits (at most 20 s) for the line to reach its log: the runner must
            // read all of it while the agent still runs, with no write left to wake it.
            {"bulk-then-wait", "dd if=\"$2\" bs=1048576 count=1 status=none\ni=0\n"
                               "while [ $i -lt 200 ]; do\n"
                               "  grep -q MARKER \"$1/bulk-then-wait.log\" && exit 0\n"
                               "  sleep 0.1; i=$((i + 1))\ndone\nexit 3\n"},
        };
        for (const auto& [name, body] : scripts) {
            write_file(s_dir + "/" + name, "#!/bin/sh\n" + body, 0755);
        }
        std::string binary;
        for (int i = 0; i < (1 << 20); ++i) {
            binary.push_back(static_cast<char>((i * 7 + i / 256) & 0xff));
        }
        s_binary = binary;
        write_file(s_dir + "/binary.bin", binary, 0644);
        write_file(s_dir + "/marked.bin", std::string((1 << 20) - 7, 'x') + "MARKER\n", 0644);
        write_config("config.toml", "");
    }

    // A config for the test user with every fake agent, plus `extra` TOML.
    static std::string write_config(const std::string& name, const std::string& extra,
                                    const std::string& top = "") {
        const std::string d = s_dir;
        std::string text = "user = \"" + s_user + "\"\ngrace = \"1s\"\ntimeout = \"60s\"\n" + top +
                           "default_agent = \"quick\"\n";
        const auto agent = [&](const std::string& agent_name, const std::string& command,
                               const std::string& more = "") {
            text += "[agents." + agent_name + "]\ncommand = " + command + "\n" + more;
        };
        agent("quick", "[\"" + d + "/quick\"]");
        agent("fifo-artifact", "[\"" + d + "/fifo-artifact\"]");
        agent("fifo-prompt", "[\"" + d + "/fifo-prompt\"]");
        agent("rewrite-prompt", "[\"" + d + "/rewrite-prompt\"]");
        agent("write-arg", "[\"" + d + "/write-arg\", \"{prompt}\"]");
        agent("write-stdin", "[\"" + d + "/write-stdin\"]", "stdin = \"prompt\"\n");
        agent("copy-file", "[\"" + d + "/copy-file\", \"{prompt_file}\"]");
        agent("cat-binary", "[\"" + d + "/cat-file\", \"" + d + "/binary.bin\"]");
        agent("cat-binary-2", "[\"" + d + "/cat-file\", \"" + d + "/binary.bin\"]");
        agent("background-holder", "[\"" + d + "/background-holder\"]");
        agent("setsid-holder", "[\"" + d + "/setsid-holder\"]");
        agent("sleeper", "[\"" + d + "/sleeper\"]");
        agent("family-sleeper", "[\"" + d + "/family-sleeper\"]");
        agent("short-timeout", "[\"" + d + "/family-sleeper\"]", "timeout = \"1s\"\n");
        agent("probe", "[\"" + d + "/fl-probe\"]", "env = { AGENT_SETTING = \"on\" }\n");
        agent("inject", "[\"" + d + "/fl-probe\", \"inject\"]");
        agent("big-output", "[\"" + d + "/big-output\"]");
        agent("bulk-then-wait",
              "[\"" + d + "/bulk-then-wait\", \"{run_dir}\", \"" + d + "/marked.bin\"]");
        agent("not-installed", "[\"no-such-agent-binary\"]");
        for (const char* sig : {"TERM", "KILL", "SEGV"}) {
            std::string agent_name = std::string("die-") + sig;
            std::transform(agent_name.begin(), agent_name.end(), agent_name.begin(), ::tolower);
            agent(agent_name, "[\"" + d + "/kill-self\", \"" + sig + "\"]");
        }
        text += extra;
        std::string path = s_dir + "/" + name;
        write_file(path, text, 0644);
        return path;
    }

    static size_t run_count() {
        if (!fs::exists(s_runs)) {
            return 0;
        }
        return static_cast<size_t>(
            std::distance(fs::directory_iterator(s_runs), fs::directory_iterator()));
    }

    static inline std::string s_binary;
};

TEST_F(Dispatch, RunsAnAgentAsTheUserAndRecordsEverything) {
    const ProcessResult result = dispatch({"-a", "quick", "run", "hello", "world"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const std::string id = run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out;
    EXPECT_NE(result.out.find("quick\n"), std::string::npos);

    const std::string dir = run_dir(id);
    EXPECT_EQ(read_file(dir + "/prompt.txt"), "hello world");
    EXPECT_EQ(read_file(dir + "/status"), "0\n");
    EXPECT_EQ(read_file(dir + "/quick.log"), "quick\n");
    const json run = json::parse(read_file(dir + "/run.json"));
    EXPECT_EQ(run["run_id"], id);
    EXPECT_EQ(run["task"], "run");
    EXPECT_EQ(run["user"], s_user);
    EXPECT_EQ(run["prompt_bytes"], 11);
    // sha256("hello world")
    EXPECT_EQ(run["prompt_sha256"],
              "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");

    const json status = status_json(id);
    EXPECT_EQ(status["state"], "succeeded");
    EXPECT_EQ(status["exit_code"], 0);
    ASSERT_EQ(status["agents"].size(), 1U);
    EXPECT_EQ(status["agents"][0]["name"], "quick");
    EXPECT_EQ(status["agents"][0]["state"], "succeeded");
    EXPECT_EQ(status["agents"][0]["bytes"], 6);
    EXPECT_EQ(status["agents"][0]["log"], dir + "/quick.log");
    for (const char* key : {"started_at", "finished_at"}) {
        EXPECT_TRUE(status[key].is_string());
        EXPECT_TRUE(status["agents"][0][key].is_string());
    }
    EXPECT_EQ(fs::status(dir).permissions() & fs::perms::all, fs::perms::owner_all);
}

TEST_F(Dispatch, NothingUnderTheRunsDirectoryBelongsToRoot) {
    ASSERT_EQ(dispatch({"-a", "quick,probe", "run", "x"}).exit_code, 0);
    struct stat info {};
    ASSERT_EQ(stat(s_runs.c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, s_uid);
    size_t checked = 0;
    for (const auto& entry : fs::recursive_directory_iterator(s_runs)) {
        ASSERT_EQ(lstat(entry.path().c_str(), &info), 0);
        EXPECT_EQ(info.st_uid, s_uid) << entry.path();
        EXPECT_NE(info.st_gid, 0U) << entry.path();
        ++checked;
    }
    EXPECT_GT(checked, 5U);
}

TEST_F(Dispatch, LogsAreByteExactForBinaryOutput) {
    const ProcessResult result = dispatch({"-a", "cat-binary", "run", "x"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const std::string id = run_id_of(result.out);
    EXPECT_EQ(read_file(run_dir(id) + "/cat-binary.log"), s_binary);
    const size_t start = result.out.find('\n') + 1;
    EXPECT_EQ(result.out.substr(start, s_binary.size()), s_binary) << "console differs";
    EXPECT_EQ(status_json(id)["agents"][0]["bytes"], s_binary.size());
    // Through a pipe `logs` escapes what a human may read (ssh, less); --raw gives the bytes.
    const ProcessResult logs = dispatch({"logs", id, "--raw"});
    EXPECT_EQ(logs.out, s_binary);
    const ProcessResult escaped = dispatch({"logs", id});
    EXPECT_NE(escaped.out.find("\\x00"), std::string::npos);
    EXPECT_TRUE(std::none_of(escaped.out.begin(), escaped.out.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return (byte < 0x20 && byte != '\n' && byte != '\t' && byte != '\r') || byte == 0x7f;
    })) << "a control byte passed unescaped";
    // Into a file: the bytes, as a file is no one's terminal.
    const std::string copy = s_dir + "/logs-copy.bin";
    fleet::test::run(
        {"/bin/sh", "-c", "\"$@\" > " + copy, "sh", k_dispatch, "-c", s_config, "logs", id});
    EXPECT_EQ(read_file(copy), s_binary);
    fs::remove(copy);
}

TEST_F(Dispatch, EveryExitCodeIsRecordedAndNeverPassedThrough) {
    std::string agents, names;
    for (int code = 0; code < 256; ++code) {
        const std::string name = "exit" + std::to_string(code);
        agents += "[agents." + name + "]\ncommand = [\"" + s_dir + "/exit-with\", \"" +
                  std::to_string(code) + "\"]\n";
        names += (names.empty() ? "" : ",") + name;
    }
    const std::string config = write_config("exits.toml", agents, "max_parallel = 32\n");
    RunOptions options;
    options.timeout_seconds = 120;
    const ProcessResult result = dispatch({"-a", names, "run", "x"}, options, config);
    EXPECT_EQ(result.exit_code, 1) << result.err;
    const json status = status_json(run_id_of(result.out), config);
    ASSERT_EQ(status["agents"].size(), 256U);
    for (int code = 0; code < 256; ++code) {
        const json& agent = status["agents"][static_cast<size_t>(code)];
        EXPECT_EQ(agent["exit_code"], code);
        EXPECT_TRUE(agent["signal"].is_null());
        EXPECT_EQ(agent["state"], code == 0 ? "succeeded" : "failed");
    }
}

TEST_F(Dispatch, DeathsBySignalAreRecordedWithTheSignal) {
    const ProcessResult result = dispatch({"-a", "die-term,die-kill,die-segv", "run", "x"});
    EXPECT_EQ(result.exit_code, 1);
    const json status = status_json(run_id_of(result.out));
    const int expected[] = {SIGTERM, SIGKILL, SIGSEGV};
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(status["agents"][i]["state"], "failed");
        EXPECT_TRUE(status["agents"][i]["exit_code"].is_null());
        EXPECT_EQ(status["agents"][i]["signal"], expected[i]);
    }
}

TEST_F(Dispatch, AGrandchildHoldingThePipeDoesNotHangTheRun) {
    const auto start = std::chrono::steady_clock::now();
    const ProcessResult result = dispatch({"-a", "background-holder", "run", "x"});
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_LT(took, std::chrono::seconds(10)) << "the run waited for the grandchild";
    const std::string id = run_id_of(result.out);
    EXPECT_EQ(status_json(id)["agents"][0]["state"], "succeeded");
    EXPECT_TRUE(survivors(id).empty());
}

TEST_F(Dispatch, ASetsidGrandchildIsKilledAtTheEnd) {
    const ProcessResult result = dispatch({"-a", "setsid-holder", "run", "x"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    const std::string id = run_id_of(result.out);
    EXPECT_EQ(status_json(id)["agents"][0]["state"], "succeeded");
    EXPECT_TRUE(survivors(id).empty());
    // Control: such a grandchild really does outlive its agent when nobody reaps it.
    // (Its output goes to /dev/null: it would hold our pipe open for 123 s otherwise.)
    const ProcessResult control =
        fleet::test::run({"/bin/sh", "-c", s_dir + "/setsid-holder >/dev/null 2>&1"});
    EXPECT_EQ(control.exit_code, 0);
    EXPECT_EQ(fleet::test::run({"pkill", "-x", "-f", "sleep 123"}).exit_code, 0)
        << "the control's grandchild was not running";
}

TEST_F(Dispatch, AgentTimeoutKillsTheWholeFamily) {
    const ProcessResult result = dispatch({"-a", "short-timeout", "run", "x"});
    EXPECT_EQ(result.exit_code, 124);
    const std::string id = run_id_of(result.out);
    const json status = status_json(id);
    EXPECT_EQ(status["state"], "timed_out");
    EXPECT_EQ(status["agents"][0]["state"], "timed_out");
    EXPECT_EQ(read_file(run_dir(id) + "/status"), "124\n");
    EXPECT_TRUE(survivors(id).empty());
}

TEST_F(Dispatch, RunTimeoutKillsEveryAgent) {
    const ProcessResult result =
        dispatch({"--timeout", "1s", "-a", "family-sleeper,sleeper", "run", "x"});
    EXPECT_EQ(result.exit_code, 124);
    const std::string id = run_id_of(result.out);
    const json status = status_json(id);
    EXPECT_EQ(status["state"], "timed_out");
    for (const json& agent : status["agents"]) {
        EXPECT_EQ(agent["state"], "timed_out");
    }
    EXPECT_TRUE(survivors(id).empty());
}

TEST_F(Dispatch, SigtermCancelsWritesStatusAndLeavesNoSurvivors) {
    fleet::test::Started started =
        fleet::test::start({k_dispatch, "-c", s_config, "-a", "family-sleeper", "run", "x"});
    bool sent = false;
    const ProcessResult result = fleet::test::finish(started, [&](const std::string& out) {
        if (!sent && out.find("started\n") != std::string::npos) {
            kill(started.pid, SIGTERM);
            sent = true;
        }
    });
    ASSERT_TRUE(sent);
    EXPECT_EQ(result.exit_code, 130) << result.err;
    const std::string id = run_id_of(result.out);
    const json status = status_json(id);
    EXPECT_EQ(status["state"], "cancelled");
    EXPECT_EQ(status["agents"][0]["state"], "cancelled");
    EXPECT_EQ(read_file(run_dir(id) + "/status"), "130\n");
    EXPECT_TRUE(survivors(id).empty());
}

TEST_F(Dispatch, SigkillOfTheRunnerShowsLost) {
    fleet::test::Started started =
        fleet::test::start({k_dispatch, "-c", s_config, "-a", "sleeper", "run", "x"});
    bool sent = false;
    const ProcessResult result = fleet::test::finish(started, [&](const std::string& out) {
        if (!sent && out.find("started\n") != std::string::npos) {
            kill(started.pid, SIGKILL);
            sent = true;
        }
    });
    ASSERT_TRUE(sent);
    EXPECT_EQ(result.signal, SIGKILL);
    const std::string id = run_id_of(result.out);
    EXPECT_EQ(status_json(id)["state"], "lost");
    EXPECT_FALSE(fs::exists(run_dir(id) + "/status"));
    // The agent had the parent-death signal: it does not run on unsupervised.
    for (int i = 0; i < 50 && !survivors(id).empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(survivors(id).empty());
}

// With the console discarding (--console none or summary, or stdout on /dev/null) the runner
// skips console writes and line prefixes; the logs stay byte-exact.
TEST_F(Dispatch, LogsOfConcurrentAgentsAreByteExactInEveryConsoleMode) {
    for (const char* mode : {"full", "none", "summary"}) {
        const ProcessResult result =
            dispatch({"-a", "cat-binary,cat-binary-2", "--console", mode, "run", "x"});
        ASSERT_EQ(result.exit_code, 0) << mode << result.err;
        const std::string id = run_id_of(result.out);
        ASSERT_FALSE(id.empty()) << mode << result.out;
        // With two agents a full console has their lines, prefixed.
        EXPECT_EQ(result.out.find("\n[cat-binary-2] ") == std::string::npos,
                  std::string(mode) != "full")
            << mode;
        for (const char* agent : {"cat-binary", "cat-binary-2"}) {
            EXPECT_EQ(read_file(run_dir(id) + "/" + agent + ".log"), s_binary) << mode << agent;
        }
    }
}

TEST_F(Dispatch, OutputIsReadWhileTheAgentRuns) {
    const ProcessResult result = dispatch({"-a", "bulk-then-wait", "run", "x"});
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    const json status = status_json(run_id_of(result.out));
    EXPECT_EQ(status["agents"][0]["exit_code"], 0) << "the line reached the log only at the end";
    EXPECT_EQ(status["agents"][0]["bytes"], 1048576);
}

TEST_F(Dispatch, AgentPipesAreOneMebibyteWithinTheUsersBudget) {
    // 16 MiB in all: one agent gets 1 MiB, each of 32 at once 512 KiB.
    std::string extra, names;
    for (int i = 0; i < 32; ++i) {
        const std::string name = "probe-" + std::to_string(i);
        extra += "[agents." + name + "]\ncommand = [\"" + s_dir + "/fl-probe\"]\n";
        names += (names.empty() ? "" : ",") + name;
    }
    const std::string config = write_config("pipes.toml", extra, "max_parallel = 32\n");
    const auto pipe_size = [](const std::string& log) {
        const size_t at = log.find("stdout_pipe_size=");
        return at == std::string::npos ? std::string("missing")
                                       : log.substr(at + 17, log.find('\n', at) - at - 17);
    };
    const ProcessResult one = dispatch({"-a", "probe-0", "run", "x"}, {}, config);
    ASSERT_EQ(one.exit_code, 0) << one.err;
    EXPECT_EQ(pipe_size(read_file(run_dir(run_id_of(one.out)) + "/probe-0.log")), "1048576");
    const ProcessResult many = dispatch({"-a", names, "run", "x"}, {}, config);
    ASSERT_EQ(many.exit_code, 0) << many.err;
    for (int i = 0; i < 32; ++i) {
        const std::string log =
            read_file(run_dir(run_id_of(many.out)) + "/probe-" + std::to_string(i) + ".log");
        EXPECT_EQ(pipe_size(log), "524288") << i;
    }
}

// fs.pipe-max-size (1 MiB by default; unprivileged F_SETPIPE_SZ may not go beyond it) set for
// the life of the object, then put back. The tests that use it run one at a time (one binary).
class PipeMaxSize {
public:
    explicit PipeMaxSize(int size) : m_old(read_file(k_file)) { std::ofstream(k_file) << size; }
    ~PipeMaxSize() { std::ofstream(k_file) << m_old; }
    PipeMaxSize(const PipeMaxSize&) = delete;
    PipeMaxSize& operator=(const PipeMaxSize&) = delete;

private:
    static constexpr const char* k_file = "/proc/sys/fs/pipe-max-size";
    std::string m_old;
};

// A pipe of `size` bytes. Beyond fs.pipe-max-size only CAP_SYS_RESOURCE may go, which root
// lacks in some sandboxes: the limit is raised for the one call instead.
void make_pipe(int fds[2], int size) {
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    const PipeMaxSize limit(std::max(size, 1 << 20));
    ASSERT_EQ(fcntl(fds[1], F_SETPIPE_SZ, size), size);
}

TEST_F(Dispatch, AConsolePipeIsGrownNeverShrunk) {
    for (const int before : {64 * 1024, 2 << 20}) {
        int fds[2];
        ASSERT_NO_FATAL_FAILURE(make_pipe(fds, before));
        RunOptions options;
        options.keep_fds = {{fds[1], 1}};
        const ProcessResult result = dispatch({"-a", "quick", "run", "x"}, options);
        close(fds[1]);
        EXPECT_EQ(result.exit_code, 0) << result.err;
        EXPECT_EQ(fcntl(fds[0], F_GETPIPE_SZ), std::max(before, 1 << 20)) << before;
        std::string out(4096, '\0');
        const ssize_t n = read(fds[0], out.data(), out.size());
        close(fds[0]);
        ASSERT_GT(n, 0);
        EXPECT_NE(out.find("\nquick\n"), std::string::npos) << out;
    }
}

TEST_F(Dispatch, ARefusedPipeSizeKeepsTheDefaultAndDoctorSaysSo) {
    // The control is AgentPipesAreOneMebibyteWithinTheUsersBudget: 1 MiB under the default limit.
    // doctor with no agents of its own: it would try each fake agent's --version.
    const std::string plain = s_dir + "/plain.toml";
    write_file(plain, "user = \"" + s_user + "\"\n", 0644);
    ProcessResult result, doctor;
    {
        const PipeMaxSize limit(64 * 1024);
        result = dispatch({"-a", "probe", "run", "x"});
        doctor = dispatch({"doctor"}, {}, plain);
    }
    EXPECT_NE(doctor.out.find("\nwarn pipes         fs.pipe-max-size is 65536: "),
              std::string::npos)
        << doctor.out;
    EXPECT_NE(
        dispatch({"doctor"}, {}, plain).out.find("\nok   pipes         agent pipes of 1048576"),
        std::string::npos);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const std::string dir = run_dir(run_id_of(result.out));
    EXPECT_NE(read_file(dir + "/probe.log").find("stdout_pipe_size=65536\n"), std::string::npos);
    EXPECT_NE(read_file(dir + "/runner.log").find("output pipe keeps its size: F_SETPIPE_SZ"),
              std::string::npos);
}

TEST_F(Dispatch, AFullDiskStopsTheLogNotTheAgent) {
    char pattern[] = "/tmp/fl-dispatch-tmpfs-XXXXXX";
    const std::string mount_point = mkdtemp(pattern);
    const std::string options =
        "size=1m,mode=0700,uid=" + std::to_string(s_uid) + ",gid=" + std::to_string(s_uid);
    if (mount("tmpfs", mount_point.c_str(), "tmpfs", 0, options.c_str()) != 0) {
        rmdir(mount_point.c_str());
        GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
    }
    const std::string config =
        write_config("small-disk.toml", "", "runs_dir = \"" + mount_point + "/runs\"\n");
    const ProcessResult result = dispatch({"-a", "big-output", "run", "x"}, {}, config);
    const std::string id = run_id_of(result.out);
    const json status = status_json(id, config);
    umount(mount_point.c_str());
    rmdir(mount_point.c_str());
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(status["agents"][0]["state"], "succeeded");
    EXPECT_NE(status["agents"][0]["log_error"].get<std::string>().find("No space"),
              std::string::npos);
    EXPECT_GT(status["agents"][0]["bytes"].get<size_t>(), 0U);
    EXPECT_LT(status["agents"][0]["bytes"].get<size_t>(), 4194304U);
    // The console still got every byte.
    EXPECT_NE(result.out.find(std::string(4194304, 'x')), std::string::npos);
}

TEST_F(Dispatch, FiftyConcurrentDispatchesGetDistinctIds) {
    std::vector<fleet::test::Started> started;
    started.reserve(50);
    for (int i = 0; i < 50; ++i) {
        started.push_back(fleet::test::start({k_dispatch, "-c", s_config, "run", "x"}));
    }
    std::set<std::string> ids;
    for (auto& one : started) {
        const ProcessResult result = fleet::test::finish(one);
        EXPECT_EQ(result.exit_code, 0) << result.err;
        ids.insert(run_id_of(result.out));
    }
    EXPECT_EQ(ids.size(), 50U);
    EXPECT_EQ(ids.count(""), 0U);
}

TEST_F(Dispatch, AHostilePromptArrivesByteExactAndRunsNothing) {
    const std::string marker = s_dir + "/pwned";
    const std::string prompt = "-rf 'single' \"double\" $(touch " + marker + ") `touch " + marker +
                               "` ; touch " + marker + " | && \\ \n second line\n\ttab $HOME";
    // As one argv element, on stdin, and as a file.
    for (const char* agent : {"write-arg", "write-stdin", "copy-file"}) {
        SCOPED_TRACE(agent);
        const ProcessResult result = dispatch({"-a", agent, "run", "--", prompt});
        ASSERT_EQ(result.exit_code, 0) << result.err;
        const std::string id = run_id_of(result.out);
        const std::string file = std::string(agent) == "write-arg"     ? "arg.bin"
                                 : std::string(agent) == "write-stdin" ? "stdin.bin"
                                                                       : "file.bin";
        EXPECT_EQ(read_file(run_dir(id) + "/work-" + agent + "/" + file), prompt);
        EXPECT_EQ(read_file(run_dir(id) + "/prompt.txt"), prompt);
    }
    EXPECT_FALSE(fs::exists(marker)) << "the prompt ran something";
    // 100 KiB through --prompt-file - (stdin of dispatch).
    RunOptions options;
    options.input = std::string(size_t{100} * 1024, 'p') + "\n$(x)";
    const ProcessResult big = dispatch({"-a", "write-arg", "--prompt-file", "-", "run"}, options);
    ASSERT_EQ(big.exit_code, 0) << big.err;
    EXPECT_EQ(read_file(run_dir(run_id_of(big.out)) + "/work-write-arg/arg.bin"), *options.input);
}

TEST_F(Dispatch, TheAgentSeesNoFdsAndOnlyTheAllowedEnvironment) {
    RunOptions options;
    options.env = std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                           "HOME=/root",
                                           "LD_PRELOAD=/nonexistent.so",
                                           "AWS_SECRET_ACCESS_KEY=secret",
                                           "SSM_COMMAND_ID=cmd-1",
                                           "NODE_OPTIONS=--x",
                                           "LANG=C.UTF-8"};
    const ProcessResult result = dispatch({"-a", "probe", "run", "x"}, options);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const std::string id = run_id_of(result.out);
    const std::string log = read_file(run_dir(id) + "/probe.log");
    std::set<std::string> names;
    std::map<std::string, std::string> values;
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("env:", 0) == 0) {
            names.insert(line.substr(4, line.find('=') - 4));
        } else if (const size_t eq = line.find('='); eq != std::string::npos) {
            values[line.substr(0, eq)] = line.substr(eq + 1);
        }
    }
    EXPECT_EQ(values["fds"], "0,1,2");
    // dispatch ignores SIGPIPE and handles TERM/INT/HUP/CHLD itself; the agent starts clean.
    EXPECT_EQ(values["SigBlk"], "0000000000000000");
    EXPECT_EQ(values["SigIgn"], "0000000000000000");
    const std::string u = std::to_string(s_uid);
    EXPECT_EQ(values["Uid"], u + " " + u + " " + u + " " + u);
    EXPECT_EQ(values["NoNewPrivs"], "1");
    EXPECT_EQ(values["CapEff"], "0000000000000000");
    const std::set<std::string> allowed = {"HOME",
                                           "USER",
                                           "LOGNAME",
                                           "SHELL",
                                           "PATH",
                                           "LANG",
                                           "AGENT_SETTING",
                                           "FLEET_DISPATCH_RUN_ID",
                                           "FLEET_DISPATCH_AGENT",
                                           "FLEET_DISPATCH_RUN_DIR"};
    EXPECT_EQ(names, allowed);
    EXPECT_NE(log.find("env:HOME=/home/" + s_user + "\n"), std::string::npos);
    // And the runner recorded SSM's command id without passing it on.
    EXPECT_EQ(json::parse(read_file(run_dir(id) + "/run.json"))["ssm_command_id"], "cmd-1");
}

// What a root shell under `script` reads right after COMMAND returns, COMMAND being something
// that ends with an agent pushing "echo injected\n" into /dev/tty (fl-probe inject).
ProcessResult terminal_session(const std::string& command) {
    // script's stdin stays open (no EOF typed into the session) while bash waits.
    return fleet::test::run({"sh", "-c", "sleep 2 | script -qec \"$1\" /dev/null", "sh",
                             "bash -c '" + command + "; read -t 1 line; echo \"after=[$line]\"'"});
}

// An operator runs dispatch from a root shell: the agents must not reach its terminal.
TEST_F(Dispatch, AgentsNeverShareTheOperatorsTerminal) {
    const ProcessResult control =
        terminal_session("setpriv --reuid=" + s_user + " --regid=" + s_user + " --init-groups " +
                         s_dir + "/fl-probe inject");
    if (control.out.find("tiocsti=ok") == std::string::npos) {
        GTEST_SKIP() << "TIOCSTI is disabled on this kernel: " << control.out;
    }
    EXPECT_NE(control.out.find("after=[echo injected]"), std::string::npos) << control.out;

    const ProcessResult session =
        terminal_session(k_dispatch + " -c " + s_config + " -a inject run x");
    EXPECT_NE(session.out.find("after=[]"), std::string::npos) << session.out;
    EXPECT_NE(session.out.find("devtty=ENXIO"), std::string::npos) << session.out;
}

TEST_F(Dispatch, AClosedConsoleStopsOutputButNotTheLogOrTheAgent) {
    // The reader of dispatch's stdout goes away after 100 bytes (EPIPE from then on).
    const ProcessResult result =
        fleet::test::run({"/bin/sh", "-c",
                          k_dispatch + " -c " + s_config +
                              " -a big-output run x | head -c 100 >/dev/null; "
                              "ls -t " +
                              s_runs + " | head -n 1"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const std::string id = result.out.substr(0, result.out.find('\n'));
    const json status = status_json(id);
    EXPECT_EQ(status["state"], "succeeded");
    EXPECT_EQ(status["agents"][0]["bytes"], 4194304);
    EXPECT_EQ(read_file(run_dir(id) + "/big-output.log").size(), 4194304U);
}

TEST_F(Dispatch, SeveralAgentsGetLinePrefixesOnTheConsoleOnly) {
    const ProcessResult result = dispatch({"-a", "quick,write-arg", "run", "x"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("\n[quick] quick\n"), std::string::npos) << result.out;
    EXPECT_EQ(read_file(run_dir(run_id_of(result.out)) + "/quick.log"), "quick\n");
    // Control: one agent's output is passed through raw.
    EXPECT_NE(dispatch({"-a", "quick", "run", "x"}).out.find("\nquick\n"), std::string::npos);
}

TEST_F(Dispatch, AMissingAgentBinaryIsSpawnFailed) {
    const ProcessResult result = dispatch({"-a", "not-installed,quick", "run", "x"});
    EXPECT_EQ(result.exit_code, 1);
    const json status = status_json(run_id_of(result.out));
    EXPECT_EQ(status["agents"][0]["state"], "spawn_failed");
    EXPECT_NE(status["agents"][0]["reason"].get<std::string>().find("not found"),
              std::string::npos);
    EXPECT_EQ(status["agents"][1]["state"], "succeeded");
}

// Bad input: exit 2, one line on stderr, no run created. Each has a control that passes.
TEST_F(Dispatch, BadInputIsRefusedWithNothingStarted) {
    const std::string unreadable = s_dir + "/root-only-prompt";
    write_file(unreadable, "secret prompt", 0600);
    const std::string readable = s_dir + "/prompt";
    write_file(readable, "a prompt", 0644);
    struct Case {
        std::vector<std::string> bad;
        std::vector<std::string> control;
        std::string names; // the error must mention this
    };
    const std::vector<Case> cases = {
        {{"-a", "nosuch", "run", "x"}, {"-a", "quick", "run", "x"}, "nosuch"},
        {{"nosuchtask", "x"}, {"run", "x"}, "nosuchtask"},
        {{"run", ""}, {"run", "x"}, "empty prompt"},
        {{"run", " \n "}, {"run", "x"}, "empty prompt"},
        {{"run"}, {"run", "x"}, "empty prompt"},
        {{"--prompt-file", unreadable, "run"}, {"--prompt-file", readable, "run"}, unreadable},
        {{"--prompt-file", s_dir + "/missing", "run"},
         {"--prompt-file", readable, "run"},
         "missing"},
        {{"-u", "no-such-user-xyz", "run", "x"}, {"-u", s_user, "run", "x"}, "no-such-user-xyz"},
        {{"--timeout", "5x", "run", "x"}, {"--timeout", "5s", "run", "x"}, "5x"},
        {{"-a", "quick,quick", "run", "x"}, {"-a", "quick", "run", "x"}, "twice"},
        {{"--bogus", "run", "x"}, {"run", "x"}, "bogus"},
    };
    for (const Case& c : cases) {
        std::string shown;
        for (const std::string& word : c.bad) {
            shown += word + " ";
        }
        SCOPED_TRACE(shown);
        const size_t before = run_count();
        const ProcessResult bad = dispatch(c.bad);
        EXPECT_EQ(bad.exit_code, 2) << bad.err;
        EXPECT_EQ(bad.out, "");
        EXPECT_NE(bad.err.find(c.names), std::string::npos) << bad.err;
        EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
        EXPECT_EQ(run_count(), before) << "a run was created";
        const ProcessResult control = dispatch(c.control);
        EXPECT_EQ(control.exit_code, 0) << control.err;
    }
}

TEST_F(Dispatch, MalformedConfigNamesTheKey) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"max_parallel = \"x\"\n", "max_parallel"},
        {"bogus_key = 1\n", "bogus_key"},
        {"grace = \"10 seconds\"\n", "grace"},
        {"[agents.bad]\ncommand = []\n", "agents.bad.command"},
        {"[agents.bad]\ncommand = [\"x\", \"{nope}\"]\n", "{nope}"},
        {"[agents.bad]\ncommand = [\"x\"]\nstdin = \"file\"\n", "agents.bad.stdin"},
        {"[agents.BadName]\ncommand = [\"x\"]\n", "agents.BadName"},
        {"[tasks.list]\ntemplate = \"{prompt}\"\n", "tasks.list"},
        {"this is not toml\n", "config"},
    };
    for (const auto& [text, key] : cases) {
        SCOPED_TRACE(text);
        const std::string config = s_dir + "/bad.toml";
        write_file(config, "user = \"" + s_user + "\"\n" + text, 0644);
        const ProcessResult result = dispatch({"run", "x"}, {}, config);
        EXPECT_EQ(result.exit_code, 2);
        EXPECT_NE(result.err.find(key), std::string::npos) << result.err;
        EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    }
}

TEST_F(Dispatch, AnUnsafeConfigIsRefusedWhenRoot) {
    const std::string dir = s_dir + "/configs";
    fs::create_directory(dir);
    chmod(dir.c_str(), 0755);
    const std::string config = dir + "/config.toml";
    fs::copy_file(s_config, config, fs::copy_options::overwrite_existing);
    chmod(config.c_str(), 0644);
    EXPECT_EQ(dispatch({"run", "x"}, {}, config).exit_code, 0); // control

    chmod(config.c_str(), 0664);
    ProcessResult result = dispatch({"run", "x"}, {}, config);
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("too open (chmod go-w it)"), std::string::npos) << result.err;
    chmod(config.c_str(), 0644);

    ASSERT_EQ(chown(config.c_str(), s_uid, s_uid), 0);
    EXPECT_EQ(dispatch({"run", "x"}, {}, config).exit_code, 2);
    ASSERT_EQ(chown(config.c_str(), 0, 0), 0);

    ASSERT_EQ(chown(dir.c_str(), s_uid, s_uid), 0); // the user could swap the file
    result = dispatch({"run", "x"}, {}, config);
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find(dir), std::string::npos) << result.err;
    ASSERT_EQ(chown(dir.c_str(), 0, 0), 0);
    EXPECT_EQ(dispatch({"run", "x"}, {}, config).exit_code, 0); // control again

    // A FIFO at the config path: refused at once, never waited on.
    const std::string fifo = dir + "/fifo.toml";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
    RunOptions bounded;
    bounded.timeout_seconds = 10;
    result = dispatch({"run", "x"}, bounded, fifo);
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_NE(result.err.find("not a regular file"), std::string::npos) << result.err;
    fs::remove(fifo);
}

TEST_F(Dispatch, ListStatusAndLogsReadRunsBack) {
    const ProcessResult first = dispatch({"-a", "quick", "run", "x"});
    const ProcessResult second = dispatch({"-a", "die-term", "run", "x"});
    const std::string id1 = run_id_of(first.out), id2 = run_id_of(second.out);

    const ProcessResult list = dispatch({"list", "--json", "--limit", "0"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    const json runs = json::parse(list.out);
    std::vector<std::string> ids;
    for (const json& run : runs) {
        ids.push_back(run["run_id"]);
    }
    ASSERT_GE(ids.size(), 2U);
    std::vector<std::string> starts;
    for (const json& run : runs) {
        starts.push_back(run["started_at"]);
    }
    EXPECT_TRUE(std::is_sorted(starts.rbegin(), starts.rend())) << "not newest first";
    EXPECT_EQ(ids[0], id2);
    EXPECT_EQ(json::parse(dispatch({"list", "--json", "--limit", "1"}).out)[0]["run_id"], id2);
    EXPECT_NE(std::find(ids.begin(), ids.end(), id1), ids.end());

    const ProcessResult table = dispatch({"list"});
    EXPECT_NE(table.out.find(id2 + "   failed"), std::string::npos) << table.out;

    const ProcessResult status = dispatch({"status", id2});
    EXPECT_NE(status.out.find("signal 15"), std::string::npos) << status.out;
    EXPECT_EQ(dispatch({"logs", id1}).out, "quick\n");
    EXPECT_EQ(dispatch({"logs", id1, "--agent", "quick"}).out, "quick\n");
    EXPECT_EQ(dispatch({"logs", id1, "--agent", "other"}).exit_code, 2);
    EXPECT_EQ(dispatch({"status", "../../../etc"}).exit_code, 2);
    EXPECT_EQ(dispatch({"status", "20990101-000000-zzzzzz"}).exit_code, 2);
}

// The runner is single-threaded: one open() of a FIFO an agent planted where the runner expects
// a file would stop everything, the run's timeout included. Each case must end in seconds.
TEST_F(Dispatch, FifosWhereFilesWereExpectedBlockNothing) {
    const auto started = std::chrono::steady_clock::now();
    RunOptions bounded;
    bounded.timeout_seconds = 30;
    const ProcessResult artifact =
        dispatch({"--timeout", "4s", "-a", "fifo-artifact", "blueprint", "plan"}, bounded);
    EXPECT_EQ(artifact.exit_code, 0) << artifact.err;
    const json artifact_status = status_json(run_id_of(artifact.out));
    EXPECT_EQ(artifact_status["agents"][0]["state"], "succeeded");
    EXPECT_FALSE(artifact_status["agents"][0].contains("artifact")) << "a FIFO was collected";

    // A built-in adapter's verdict is read from the log's tail: the agent replaced its log.
    const std::string config =
        write_config("fifo-log.toml", "[agents.claude]\nbinary = \"" + s_dir + "/fifo-log\"\n");
    const ProcessResult log =
        dispatch({"--timeout", "4s", "-a", "claude", "run", "x"}, bounded, config);
    EXPECT_EQ(log.exit_code, 1) << log.err;
    const json log_status = status_json(run_id_of(log.out), config);
    EXPECT_EQ(log_status["agents"][0]["state"], "failed");
    EXPECT_EQ(log_status["agents"][0]["reason"], "no result record in the output");
    const ProcessResult logs = dispatch({"logs", run_id_of(log.out)}, bounded, config);
    EXPECT_NE(logs.exit_code, 0);
    EXPECT_NE(logs.err.find("not a regular file"), std::string::npos) << logs.err;

    // The agent after it still reads the prompt (from the file as it was before any agent ran).
    const std::string serial = write_config("serial.toml", "", "max_parallel = 1\n");
    bounded.input = "the prompt\n";
    const ProcessResult prompt =
        dispatch({"--timeout", "4s", "-a", "fifo-prompt,write-stdin", "--prompt-file", "-", "run"},
                 bounded, serial);
    EXPECT_EQ(prompt.exit_code, 0) << prompt.err;
    EXPECT_EQ(read_file(run_dir(run_id_of(prompt.out)) + "/work-write-stdin/stdin.bin"),
              "the prompt\n");
    // ...and one that rewrites it in place cannot forge the next agent's prompt either.
    const ProcessResult rewritten = dispatch(
        {"--timeout", "4s", "-a", "rewrite-prompt,write-stdin", "--prompt-file", "-", "run"},
        bounded, serial);
    EXPECT_EQ(rewritten.exit_code, 0) << rewritten.err;
    const std::string rewritten_dir = run_dir(run_id_of(rewritten.out));
    EXPECT_EQ(read_file(rewritten_dir + "/prompt.txt"), "forged\n"); // it did rewrite it
    EXPECT_EQ(read_file(rewritten_dir + "/work-write-stdin/stdin.bin"), "the prompt\n");
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(12));
}

TEST_F(Dispatch, ReadersRefuseFilesPlantedAsSymlinks) {
    const ProcessResult run = dispatch({"-a", "quick", "run", "x"});
    const std::string id = run_id_of(run.out);
    const std::string log = run_dir(id) + "/quick.log";
    EXPECT_EQ(dispatch({"logs", id}).out, "quick\n"); // control
    fs::remove(log);
    fs::create_symlink("/etc/shadow", log); // what an agent running as the user could do
    const ProcessResult planted = dispatch({"logs", id});
    EXPECT_NE(planted.exit_code, 0);
    EXPECT_EQ(planted.out.find("root:"), std::string::npos);
}

} // namespace
