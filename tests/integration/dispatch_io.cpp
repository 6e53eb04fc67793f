// dispatch (dispatch_test suite): agents' logs, console, pipes, prompt, fds, environment, tty.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/dispatch_fixture.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

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
                                           "FLEET_DISPATCH_RUN_DIR",
                                           "TMPDIR"};
    EXPECT_EQ(names, allowed);
    // Its own home and temporary directory (agent_access.hpp), never root's or the user's.
    EXPECT_NE(log.find("env:HOME=/home/" + s_user + "/.local/state/fleet-dispatch/agents/probe\n"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("env:TMPDIR=" + run_dir(id) + "/tmp-probe\n"), std::string::npos) << log;
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

} // namespace
