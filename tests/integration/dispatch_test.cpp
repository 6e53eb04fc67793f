// Integration tests for dispatch: the built binary, run as root against a throwaway user, with
// fake agents written as shell scripts. Every refusal has a control that passes. This file: a
// run and what it records, exit codes and signals, the agent's process family, timeouts,
// SIGTERM and SIGKILL of dispatch; the agents' I/O is in dispatch_io.cpp, bad input, configs
// and the files readers open in dispatch_files.cpp, the shared fixture in dispatch_fixture.hpp.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <signal.h>
#include <sys/stat.h>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/dispatch_fixture.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

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
    const ProcessResult result = dispatch({"-a", "quick,probe", "run", "x"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    struct stat info {};
    ASSERT_EQ(stat(s_runs.c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, s_uid);
    size_t checked = 0;
    for (const auto& entry : fs::recursive_directory_iterator(s_runs)) {
        ASSERT_EQ(lstat(entry.path().c_str(), &info), 0);
        // On a failure, what is needed to see who made it: the owner, and the runner's log.
        const std::string seen = entry.path().string() + " is " + std::to_string(info.st_uid) +
                                 ":" + std::to_string(info.st_gid) + ", mode " +
                                 std::to_string(info.st_mode) + "; runner.log:\n" +
                                 read_file(run_dir(run_id_of(result.out)) + "/runner.log");
        EXPECT_EQ(info.st_uid, s_uid) << seen;
        EXPECT_NE(info.st_gid, 0U) << seen;
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

// The runner (status.json's pid: the inner process, init of the run's PID namespace) killed
// by SIGKILL, as an OOM kill or SSM's kill of the group would: the run shows lost, the caller's
// process says so (exit 3, not the 137 SSM reads as its own timeout), and the kernel killed
// the agents with the namespace.
TEST_F(Dispatch, SigkillOfTheRunnerShowsLost) {
    const ProcessResult result =
        run_and_kill_the_runner({k_dispatch, "-c", s_config, "-a", "sleeper", "run", "x"});
    EXPECT_EQ(result.exit_code, 3) << result.err;
    EXPECT_NE(result.err.find("the runner ended with signal 9 (SIGKILL)"), std::string::npos)
        << result.err;
    const std::string id = run_id_of(result.out);
    EXPECT_EQ(status_json(id)["state"], "lost");
    EXPECT_FALSE(fs::exists(run_dir(id) + "/status"));
    // The agent had the parent-death signal: it does not run on unsupervised.
    for (int i = 0; i < 50 && !survivors(id).empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(survivors(id).empty());
}

} // namespace
