// Integration tests for operating runs: --detach, wait, cancel, prune, labels. As root, against
// a throwaway user, with small shell agents. This file: --detach, wait, cancel, prune, readers
// naming a run by its directory, logs -f, the console under SSM; doctor is in operate_doctor.cpp,
// the live display, escaped agent text and labels in operate_display.cpp, the shared fixture in
// operate_fixture.hpp.
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <signal.h>
#include <sstream>
#include <sys/file.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/operate_fixture.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

TEST_F(Operate, ADetachedRunSurvivesSsmKillingTheCallersGroup) {
    // As SSM does: the command's whole process group gets SIGKILL right after dispatch returns.
    const auto start = std::chrono::steady_clock::now();
    const ProcessResult caller = fleet::test::run(
        {"setsid", "-w", "/bin/sh", "-c",
         k_dispatch + " -c " + s_config + " --detach -a short run x; kill -KILL 0"});
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(caller.signal, SIGKILL); // the caller's whole group died, as under SSM
    EXPECT_LT(took, std::chrono::milliseconds(1500)) << "the caller waited for the run";
    const std::string id = run_id_of(caller.out);
    ASSERT_FALSE(id.empty()) << caller.out << caller.err;
    EXPECT_EQ(caller.out, "run-id: " + id + "\n") << "console output must go to the logs only";

    const ProcessResult waited = dispatch({"wait", id});
    EXPECT_EQ(waited.exit_code, 0) << waited.err;
    EXPECT_EQ(status_json(id)["state"], "succeeded");
    EXPECT_EQ(read_file(s_runs + "/" + id + "/short.log"), "short done\n");
}

TEST_F(Operate, WaitTimesOutWithoutStoppingTheRunAndCancelStopsIt) {
    const ProcessResult started = dispatch({"--detach", "-a", "slow", "run", "x"});
    const std::string id = run_id_of(started.out);
    ASSERT_FALSE(id.empty()) << started.err;
    const ProcessResult waited = dispatch({"wait", id, "--timeout", "1s"});
    EXPECT_EQ(waited.exit_code, 124);
    EXPECT_NE(waited.err.find("still goes on"), std::string::npos) << waited.err;
    EXPECT_EQ(status_json(id)["state"], "running");

    const ProcessResult cancelled = dispatch({"cancel", id});
    EXPECT_EQ(cancelled.exit_code, 0) << cancelled.err;
    EXPECT_NE(cancelled.out.find("cancelled"), std::string::npos) << cancelled.out;
    EXPECT_EQ(dispatch({"wait", id}).exit_code, 130);
    EXPECT_EQ(status_json(id)["agents"][0]["state"], "cancelled");
    EXPECT_TRUE(survivors(id).empty());
    // Cancelling a finished run is a clear no-op.
    const ProcessResult again = dispatch({"cancel", id});
    EXPECT_EQ(again.exit_code, 0);
    EXPECT_NE(again.out.find("nothing to cancel"), std::string::npos);
}

TEST_F(Operate, CancelOneAgentLeavesTheOthers) {
    const ProcessResult started = dispatch({"--detach", "-a", "slow,short", "run", "x"});
    const std::string id = run_id_of(started.out);
    ASSERT_FALSE(id.empty()) << started.err;
    const ProcessResult cancelled = dispatch({"cancel", id, "--agent", "slow"});
    EXPECT_EQ(cancelled.exit_code, 0) << cancelled.err;
    EXPECT_EQ(dispatch({"wait", id}).exit_code, 130);
    const json status = status_json(id);
    EXPECT_EQ(status["agents"][0]["state"], "cancelled");
    EXPECT_EQ(status["agents"][1]["state"], "succeeded");
    EXPECT_TRUE(survivors(id).empty());
    EXPECT_EQ(dispatch({"cancel", id, "--agent", "nosuch"}).exit_code, 2);
}

TEST_F(Operate, CancelNeverSignalsAReusedPid) {
    // A run that claims to be running, with its lock held (by this test) and the pid of a live
    // process of the user that is not its runner.
    const fleet::test::Started victim = fleet::test::start(
        {"setpriv", "--reuid=" + s_user, "--regid=" + s_user, "--init-groups", "sleep", "60"});
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const std::string stat = read_file("/proc/" + std::to_string(victim.pid) + "/stat");
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int i = 0; i < 20; ++i) {
        fields >> field; // field 22 (starttime) is the 20th after the command name
    }
    const std::string real_start = field;
    const std::string id = "20250101-000000-stale1";
    const std::string dir = s_runs + "/" + id;
    fs::create_directories(dir);
    const auto make_status = [&](const std::string& start) {
        write_file(dir + "/status.json",
                   "{\"run_id\":\"" + id +
                       "\",\"state\":\"running\",\"started_at\":\"2025-01-01T"
                       "00:00:00.000Z\",\"pid\":" +
                       std::to_string(victim.pid) + ",\"pid_start\":" + start + ",\"agents\":[]}",
                   0600);
    };
    make_status("1");
    write_file(dir + "/lock", "", 0600);
    for (const auto& entry : fs::recursive_directory_iterator(s_runs)) {
        ASSERT_EQ(chown(entry.path().c_str(), s_uid, s_uid), 0) << entry.path();
    }
    const int lock = open((dir + "/lock").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_EQ(flock(lock, LOCK_EX), 0);

    const ProcessResult refused = dispatch({"cancel", id});
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("cannot be verified"), std::string::npos) << refused.err;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_TRUE(alive(victim.pid)) << "a process that is not the runner was signalled";

    // Control: with the right start time the same pid counts as the runner and is signalled.
    make_status(real_start);
    ASSERT_EQ(chown((dir + "/status.json").c_str(), s_uid, s_uid), 0);
    dispatch({"cancel", id});
    for (int i = 0; i < 20 && alive(victim.pid); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_FALSE(alive(victim.pid));
    close(lock);
    kill(victim.pid, SIGKILL);
    fleet::test::Started copy = victim;
    fleet::test::finish(copy);
    fs::remove_all(dir);
}

TEST_F(Operate, PruneRemovesOldFinishedRunsAndNeverARunningOne) {
    fs::remove_all(s_runs);
    std::vector<std::string> finished;
    finished.reserve(3);
    for (int i = 0; i < 3; ++i) {
        finished.push_back(run_id_of(dispatch({"-a", "quick", "run", "x"}).out));
    }
    const std::string running = run_id_of(dispatch({"--detach", "-a", "slow", "run", "x"}).out);
    ASSERT_FALSE(running.empty());

    const ProcessResult dry = dispatch({"prune", "--keep", "1", "--dry-run"});
    EXPECT_EQ(dry.exit_code, 0) << dry.err;
    EXPECT_NE(dry.out.find("would remove " + finished[0]), std::string::npos) << dry.out;
    EXPECT_TRUE(fs::exists(s_runs + "/" + finished[0]));

    EXPECT_NE(dispatch({"prune", "--older-than", "1h"}).out.find("pruned 0 of"),
              std::string::npos); // all are younger
    const ProcessResult pruned = dispatch({"prune", "--keep", "1"});
    EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
    EXPECT_FALSE(fs::exists(s_runs + "/" + finished[0]));
    EXPECT_FALSE(fs::exists(s_runs + "/" + finished[1]));
    EXPECT_TRUE(fs::exists(s_runs + "/" + finished[2]));
    EXPECT_TRUE(fs::exists(s_runs + "/" + running));
    EXPECT_EQ(status_json(running)["state"], "running");
    dispatch({"cancel", running});
}

// The prune timer's command line, `dispatch prune` alone: the config's prune_older_than says how
// long ago a finished run must have started to go; without the setting nothing goes.
TEST_F(Operate, PruneAloneTakesTheAgeFromTheConfig) {
    fs::remove_all(s_runs);
    const std::string old_run = run_id_of(dispatch({"-a", "quick", "run", "x"}).out);
    const std::string new_run = run_id_of(dispatch({"-a", "quick", "run", "x"}).out);
    ASSERT_FALSE(old_run.empty());
    ASSERT_FALSE(new_run.empty());
    // Started long ago, as its status.json says (what prune reads).
    const std::string status_path = s_runs + "/" + old_run + "/status.json";
    json aged = json::parse(read_file(status_path));
    aged["started_at"] = "2020-01-01T00:00:00.000Z";
    write_file(status_path, aged.dump(), 0644);
    ASSERT_EQ(chown(status_path.c_str(), s_uid, static_cast<gid_t>(-1)), 0);

    // Unset (s_config): nothing goes, it says so, and it succeeds, so the timer's unit does not
    // fail on a host that keeps every run.
    const ProcessResult unset = dispatch({"prune"});
    EXPECT_EQ(unset.exit_code, 0) << unset.err;
    EXPECT_NE(unset.out.find("prune_older_than is not set"), std::string::npos) << unset.out;
    EXPECT_TRUE(fs::exists(s_runs + "/" + old_run));

    // Top-level keys before the config's tables.
    const std::string config = s_dir + "/prune.toml";
    write_file(config, "prune_older_than = \"1d\"\n" + read_file(s_config), 0644);
    const ProcessResult dry = dispatch({"prune", "--dry-run"}, {}, config);
    EXPECT_EQ(dry.exit_code, 0) << dry.err;
    EXPECT_NE(dry.out.find("would remove " + old_run), std::string::npos) << dry.out;
    EXPECT_TRUE(fs::exists(s_runs + "/" + old_run));
    const ProcessResult pruned = dispatch({"prune"}, {}, config);
    EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
    EXPECT_NE(pruned.out.find("more than 1d ago (prune_older_than)"), std::string::npos)
        << pruned.out;
    EXPECT_FALSE(fs::exists(s_runs + "/" + old_run)) << pruned.out;
    EXPECT_TRUE(fs::exists(s_runs + "/" + new_run)) << pruned.out; // control: younger, kept
    // Given on the command line, the options decide, not the config: --keep 0 takes the rest.
    EXPECT_EQ(dispatch({"prune", "--keep", "0"}, {}, config).exit_code, 0);
    EXPECT_FALSE(fs::exists(s_runs + "/" + new_run));
}

// status.json sits in the run directory, which the agent can write: prune must remove the
// directory it listed, whatever run_id the file claims.
TEST_F(Operate, PruneRemovesTheListedDirectoryNeverTheIdStatusJsonClaims) {
    fs::remove_all(s_runs);
    const std::string id = run_id_of(dispatch({"-a", "quick", "run", "x"}).out);
    ASSERT_FALSE(id.empty());
    const std::string keep = "/home/" + s_user + "/.local/keep"; // runs/../../../keep
    fs::create_directories(keep);
    write_file(keep + "/precious", "mine\n", 0644);
    const std::string status_path = s_runs + "/" + id + "/status.json";
    json forged = json::parse(read_file(status_path));
    forged["run_id"] = "../../../keep";
    write_file(status_path, forged.dump(), 0644);
    ASSERT_EQ(chown(status_path.c_str(), s_uid, static_cast<gid_t>(-1)), 0);

    const ProcessResult pruned = dispatch({"prune", "--keep", "0"});
    EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
    EXPECT_TRUE(fs::exists(keep + "/precious")) << "prune followed a forged run_id\n" << pruned.out;
    EXPECT_FALSE(fs::exists(s_runs + "/" + id)) << pruned.out; // control: the run is gone
    EXPECT_NE(pruned.out.find("removed " + id), std::string::npos) << pruned.out;
    fs::remove_all(keep);
}

// Readers take the id from the directory they opened, never from the file.
TEST_F(Operate, StatusAndListNameARunByItsDirectory) {
    const std::string id = run_id_of(dispatch({"-a", "quick", "run", "x"}).out);
    ASSERT_FALSE(id.empty());
    const std::string status_path = s_runs + "/" + id + "/status.json";
    json forged = json::parse(read_file(status_path));
    forged["run_id"] = "../../../elsewhere";
    write_file(status_path, forged.dump(), 0644);
    EXPECT_EQ(status_json(id)["run_id"], id);
    const json listed = json::parse(dispatch({"list", "--json"}).out);
    bool found = false;
    for (const json& run : listed) {
        EXPECT_NE(run["run_id"], "../../../elsewhere");
        found = found || run["run_id"] == id;
    }
    EXPECT_TRUE(found) << listed.dump();
}

TEST_F(Operate, LogsFollowEndsWithTheRunAndShowsEveryByte) {
    const std::string id = run_id_of(dispatch({"--detach", "-a", "ticker", "run", "x"}).out);
    ASSERT_FALSE(id.empty());
    const auto start = std::chrono::steady_clock::now();
    const ProcessResult followed = dispatch({"logs", id, "-f"});
    EXPECT_EQ(followed.exit_code, 0) << followed.err;
    EXPECT_GT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(800))
        << "it returned before the run ended";
    EXPECT_EQ(followed.out, "line 1\nline 2\nline 3\nline 4\nline 5\nend");
    EXPECT_EQ(followed.out, read_file(s_runs + "/" + id + "/ticker.log"));
    EXPECT_EQ(dispatch({"logs", id, "--tail", "2"}).out, "line 5\nend");
    EXPECT_EQ(dispatch({"logs", id, "--tail", "100"}).out, followed.out);

    // Several agents interleave, each line prefixed; the last partial line is ended.
    const std::string both =
        run_id_of(dispatch({"--detach", "-a", "ticker,quick", "run", "x"}).out);
    const ProcessResult mixed = dispatch({"logs", both, "-f"});
    EXPECT_EQ(mixed.exit_code, 0) << mixed.err;
    for (const char* expected :
         {"[ticker] line 1\n", "[ticker] line 5\n", "[ticker] end\n", "[quick] quick\n"}) {
        EXPECT_NE(mixed.out.find(expected), std::string::npos) << expected << "\n" << mixed.out;
    }
    EXPECT_EQ(dispatch({"logs", both}).exit_code, 2); // which agent? (control: --agent works)
    EXPECT_EQ(dispatch({"logs", both, "--agent", "quick"}).out, "quick\n");
}

TEST_F(Operate, UnderSsmTheConsoleIsTheSummary) {
    RunOptions ssm;
    ssm.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "SSM_COMMAND_ID=cmd-1"};
    const ProcessResult summary = dispatch({"-a", "ticker", "run", "x"}, ssm);
    EXPECT_EQ(summary.exit_code, 0) << summary.err;
    EXPECT_EQ(summary.out.rfind("run-id: ", 0), 0U);
    EXPECT_EQ(summary.out.find("line 1"), std::string::npos) << "agent output under SSM";
    EXPECT_NE(summary.out.find("== run "), std::string::npos);
    // Control: asked for, the full stream comes back; and none leaves only the id.
    const ProcessResult full = dispatch({"--console", "full", "-a", "ticker", "run", "x"}, ssm);
    EXPECT_NE(full.out.find("line 1"), std::string::npos);
    const ProcessResult none = dispatch({"--console", "none", "-a", "quick", "run", "x"});
    EXPECT_EQ(none.out, "run-id: " + run_id_of(none.out) + "\n");
    EXPECT_EQ(dispatch({"--console", "loud", "run", "x"}).exit_code, 2);
}

TEST_F(Operate, TheSummaryFitsSsmsConsoleWithTwentyAgents) {
    std::string agents, names;
    for (int i = 0; i < 20; ++i) {
        const std::string name = "an-agent-with-a-rather-long-name-" + std::to_string(i);
        agents += "[agents." + name + "]\ncommand = [\"/bin/sh\", \"-c\", \"exit 3\"]\n";
        names += (names.empty() ? "" : ",") + name;
    }
    const std::string config = s_dir + "/twenty.toml";
    write_file(config, "user = \"" + s_user + "\"\nmax_parallel = 20\n" + agents, 0644);
    const ProcessResult result =
        fleet::test::run({k_dispatch, "-c", config, "-a", names, "run", "x"});
    EXPECT_EQ(result.exit_code, 1);
    const size_t summary = result.out.find("\n== run ");
    ASSERT_NE(summary, std::string::npos) << result.out;
    EXPECT_LE(result.out.size() - summary, 2000U) << result.out.substr(summary);
    EXPECT_NE(result.out.find("an-agent-with-a-rather-long-name-0 "), std::string::npos);
}

} // namespace
