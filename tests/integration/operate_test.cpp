// Integration tests for operating runs: --detach, wait, cancel, prune, labels. As root, against
// a throwaway user, with small shell agents.
#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <signal.h>
#include <sstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/process.hpp"
#include "support/runner_fixture.hpp"

namespace fs = std::filesystem;
using fleet::test::alive;
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

class Operate : public RunnerFixture {
protected:
    static void SetUpTestSuite() {
        set_up_runner("o", "operate");
        write_file(
            s_config,
            "user = \"" + s_user +
                "\"\ngrace = \"1s\"\n"
                "[agents.short]\ncommand = [\"/bin/sh\", \"-c\", \"sleep 2; echo short done\"]\n"
                "[agents.slow]\ncommand = [\"/bin/sh\", \"-c\", \"echo started; sleep 60\"]\n"
                "[agents.quick]\ncommand = [\"/bin/sh\", \"-c\", \"echo quick\"]\n"
                "[agents.fail]\ncommand = [\"/bin/sh\", \"-c\", \"exit 3\"]\n"
                "[agents.ticker]\ncommand = [\"/bin/sh\", \"-c\", \"for i in 1 2 3 4 5; do "
                "echo line $i; sleep 0.3; done; printf end\"]\n",
            0644);
    }
};

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
        chown(entry.path().c_str(), s_uid, s_uid);
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
    chown((dir + "/status.json").c_str(), s_uid, s_uid);
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
    EXPECT_EQ(dispatch({"prune"}).exit_code, 2); // neither --keep nor --older-than
    dispatch({"cancel", running});
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

TEST_F(Operate, DoctorFindsAndFixesRootOwnedFilesWithoutFollowingSymlinks) {
    ASSERT_EQ(dispatch({"-a", "quick", "run", "x"}).exit_code, 0);
    const ProcessResult clean = dispatch({"doctor"});
    EXPECT_NE(clean.out.find("ok   ownership"), std::string::npos) << clean.out; // control

    // What an old script running as root left behind, and a symlink the user planted.
    const std::string planted = s_runs + "/index.json";
    write_file(planted, "{}", 0644);
    fs::create_symlink("/etc/hostname", s_runs + "/trap");
    const ProcessResult found = dispatch({"doctor"});
    EXPECT_EQ(found.exit_code, 1) << found.out;
    EXPECT_NE(found.out.find("fail ownership"), std::string::npos) << found.out;
    EXPECT_NE(found.out.find("index.json"), std::string::npos) << found.out;

    const ProcessResult fixed = dispatch({"doctor", "--fix"});
    EXPECT_EQ(fixed.exit_code, 0) << fixed.out;
    struct stat info {};
    ASSERT_EQ(lstat(planted.c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, s_uid);
    ASSERT_EQ(stat("/etc/hostname", &info), 0);
    EXPECT_EQ(info.st_uid, 0U) << "the fix followed the planted symlink";
    EXPECT_EQ(dispatch({"doctor"}).exit_code, 0);
    fs::remove(planted);
    fs::remove(s_runs + "/trap");
}

// The user can hard-link any file it may read and write into its own tree (with
// fs.protected_hardlinks=0, any file at all): root's chown through that name would hand the
// other name's file to the user.
TEST_F(Operate, DoctorFixNeverChownsThroughAHardLink) {
    const std::string home = "/home/" + s_user;
    const std::string scratch = fleet::test::make_root_scratch("doctor");
    const std::string victim = scratch + "/victim";
    write_file(victim, "root's\n", 0666);
    ASSERT_EQ(chmod(victim.c_str(), 0666), 0);
    fleet::test::run_ok({"runuser", "-u", s_user, "--", "mkdir", "-p", home + "/.claude"});
    fleet::test::run_ok({"runuser", "-u", s_user, "--", "ln", victim, home + "/.claude/linked"});
    // Control: a root-owned file with one name is the user's after the fix.
    const std::string single = home + "/.claude/left-by-root";
    write_file(single, "{}", 0644);

    const ProcessResult fixed = dispatch({"doctor", "--fix"});
    struct stat info {};
    ASSERT_EQ(stat(victim.c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, 0U) << "doctor --fix chowned through a hard link\n" << fixed.out;
    EXPECT_EQ(fixed.exit_code, 1) << fixed.out;
    EXPECT_NE(fixed.out.find("hard links"), std::string::npos) << fixed.out;
    ASSERT_EQ(stat(single.c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, s_uid) << fixed.out;

    fs::remove(home + "/.claude/linked");
    fs::remove_all(scratch);
    EXPECT_EQ(dispatch({"doctor", "--fix"}).exit_code, 0);
    fs::remove_all(home + "/.claude");
}

// doctor runs as root; the agents' PATH starts in the user's home (~/.local/bin), so whatever
// it finds there must run as the user, never as root.
TEST_F(Operate, DoctorAsksAgentsForTheirVersionAsTheUser) {
    const std::string home = "/home/" + s_user;
    const std::string bin = home + "/.local/bin";
    const std::string report = home + "/claude-probe.txt";
    fleet::test::run_ok({"runuser", "-u", s_user, "--", "mkdir", "-p", bin});
    fleet::test::run_ok(
        {"runuser", "-u", s_user, "--", "/bin/sh", "-c",
         "printf '%s\\n' '#!/bin/sh' '{ id -u; pwd; grep NoNewPrivs /proc/self/status; } > \"$HOME/"
         "claude-probe.txt\"' 'echo planted claude 9.9' > " +
             bin + "/claude && chmod 0755 " + bin + "/claude"});
    const ProcessResult doctor = dispatch({"doctor"});
    const std::vector<std::string> seen = fleet::test::lines_of(read_file(report));
    fs::remove_all(home + "/.local");
    fs::remove(report);
    EXPECT_NE(doctor.out.find("planted claude 9.9"), std::string::npos) << doctor.out; // it ran
    ASSERT_EQ(seen.size(), 3U) << doctor.out;
    EXPECT_EQ(seen[0], std::to_string(s_uid)) << "the probe ran as uid " << seen[0];
    EXPECT_EQ(seen[1], home);
    EXPECT_EQ(seen[2], "NoNewPrivs:\t1");
}

TEST_F(Operate, DoctorWarnsWhenTheUserCanSudoToRoot) {
    const std::string rule = "/etc/sudoers.d/" + s_user;
    write_file(rule, s_user + " ALL=(ALL) NOPASSWD: ALL\n", 0440);
    const std::string without_nnp = s_dir + "/no-nnp.toml";
    write_file(without_nnp, "user = \"" + s_user + "\"\nno_new_privs = false\n", 0644);
    const ProcessResult warned = fleet::test::run({k_dispatch, "-c", without_nnp, "doctor"});
    const ProcessResult blocked = dispatch({"doctor"}); // no_new_privs defaults to true
    fs::remove(rule);
    EXPECT_NE(warned.out.find("warn sudo"), std::string::npos) << warned.out;
    EXPECT_NE(warned.out.find("without a password"), std::string::npos) << warned.out;
    EXPECT_NE(blocked.out.find("ok   sudo"), std::string::npos) << blocked.out;
    EXPECT_NE(blocked.out.find("no_new_privs blocks"), std::string::npos) << blocked.out;
    // Control: without the rule there is nothing to warn about.
    const ProcessResult plain = fleet::test::run({k_dispatch, "-c", without_nnp, "doctor"});
    EXPECT_NE(plain.out.find("no sudo rights"), std::string::npos) << plain.out;
}

TEST_F(Operate, DoctorChecksTheSsmAgentRestartsAlways) {
    const std::string unit = "/etc/systemd/system/amazon-ssm-agent.service";
    for (const char* real : {"/etc/systemd/system/amazon-ssm-agent.service",
                             "/lib/systemd/system/amazon-ssm-agent.service",
                             "/usr/lib/systemd/system/amazon-ssm-agent.service",
                             "/etc/systemd/system/amazon-ssm-agent.service.d"}) {
        if (fs::exists(real)) {
            GTEST_SKIP() << "this host has a real SSM agent unit; not touching it";
        }
    }
    fs::create_directories("/etc/systemd/system/amazon-ssm-agent.service.d");
    write_file(unit, "[Service]\nType=simple\nRestart=on-failure\nRestartSec=90\n", 0644);
    const ProcessResult broken = dispatch({"doctor"});
    write_file(unit + ".d/restart.conf", "[Service]\nRestart=always\nRestartSec=10s\n", 0644);
    const ProcessResult repaired = dispatch({"doctor"});
    fs::remove_all(unit + ".d");
    fs::remove(unit);
    EXPECT_EQ(broken.exit_code, 1);
    EXPECT_NE(broken.out.find("fail ssm-agent"), std::string::npos) << broken.out;
    EXPECT_NE(broken.out.find("Restart=on-failure"), std::string::npos) << broken.out;
    EXPECT_NE(repaired.out.find("ok   ssm-agent"), std::string::npos) << repaired.out;
    // Control: no unit at all is fine (not every host runs SSM).
    EXPECT_NE(dispatch({"doctor"}).out.find("no amazon-ssm-agent unit"), std::string::npos);
}

TEST_F(Operate, OnATerminalSeveralAgentsGetALiveDisplay) {
    const std::string config = s_dir + "/live.toml";
    write_file(config,
               "user = \"" + s_user +
                   "\"\n[agents.ticker]\ncommand = [\"/bin/sh\", \"-c\", "
                   "\"for i in 1 2 3; do echo line $i; sleep 0.6; done\"]\n[agents.title]\n"
                   "command = [\"/bin/sh\", \"-c\", \"printf 'x\\\\033]0;evil\\\\007y\\\\n'\"]\n",
               0644);
    const std::string command = k_dispatch + " -c " + config + " -a ticker,title run x";
    const ProcessResult tty = fleet::test::run({"script", "-qec", command, "/dev/null"});
    EXPECT_EQ(tty.exit_code, 0) << tty.out;
    EXPECT_NE(tty.out.find("\x1b[2K"), std::string::npos) << "no live display";
    EXPECT_NE(tty.out.find("ticker "), std::string::npos);
    EXPECT_EQ(tty.out.find("[ticker] line 1"), std::string::npos) << "interleaved output on a tty";
    EXPECT_EQ(tty.out.find("\x1b]0;evil"), std::string::npos)
        << "agent escape reached the terminal";
    // The display never touches the logs. (A pty ends lines with \r\n: ids are 22 bytes.)
    ASSERT_EQ(tty.out.rfind("run-id: ", 0), 0U) << tty.out;
    const std::string id = tty.out.substr(8, 22);
    EXPECT_EQ(read_file(s_runs + "/" + id + "/ticker.log"), "line 1\nline 2\nline 3\n");
    // Control: through a pipe the same run interleaves prefixed lines, with no display.
    const ProcessResult piped = fleet::test::run({"/bin/sh", "-c", command});
    EXPECT_NE(piped.out.find("[ticker] line 1"), std::string::npos) << piped.out;
    EXPECT_EQ(piped.out.find("\x1b[2K"), std::string::npos);
    EXPECT_NE(piped.out.find("\x1b]0;evil"), std::string::npos) << "the agent really sent it";
}

// Agent text (its output, the reason quoted from it, whatever it wrote into status.json) is data:
// it reaches the operator's terminal escaped, never as escape sequences.
TEST_F(Operate, AgentTextReachesTheTerminalEscaped) {
    const std::string fake = s_dir + "/hostile-claude";
    write_file(fake,
               "#!/bin/sh\necho '{\"type\":\"result\",\"is_error\":true,\"result\":"
               "\"boom \\u001b]0;evil\\u0007 \\u009b31m\"}'\nexit 1\n",
               0755);
    const std::string config = s_dir + "/hostile.toml";
    write_file(config,
               "user = \"" + s_user + "\"\n[agents.claude]\nbinary = \"" + fake +
                   "\"\n[agents.title]\ncommand = [\"/bin/sh\", \"-c\", "
                   "\"printf 'x\\\\033]0;evil\\\\007y\\\\n'\"]\n",
               0644);
    const auto raw_control = [](const std::string& text) {
        return text.find('\x1b') != std::string::npos || text.find("\xc2\x9b") != std::string::npos;
    };
    // One agent on a terminal: its stream is shown, escaped.
    const ProcessResult tty = fleet::test::run(
        {"script", "-qec", k_dispatch + " -c " + config + " -a title run x", "/dev/null"});
    EXPECT_EQ(tty.out.find("\x1b]0;evil"), std::string::npos) << tty.out;
    EXPECT_NE(tty.out.find("x\\x1b]0;evil\\x07y"), std::string::npos) << tty.out;
    // Control: through a pipe the bytes are the agent's, unchanged.
    const ProcessResult piped = dispatch({"-a", "title", "run", "x"}, {}, config);
    EXPECT_NE(piped.out.find("x\x1b]0;evil\x07y"), std::string::npos) << piped.out;

    // The reason quoted from the agent's output, in the summary and in status.
    const ProcessResult failed = dispatch({"-a", "claude", "run", "x"}, {}, config);
    const std::string id = run_id_of(failed.out);
    ASSERT_FALSE(id.empty()) << failed.err;
    const std::string summary = failed.out.substr(failed.out.find("\n== run"));
    EXPECT_FALSE(raw_control(summary)) << summary;
    EXPECT_NE(summary.find("boom \\x1b]0;evil"), std::string::npos) << summary;
    const ProcessResult status = dispatch({"status", id}, {}, config);
    EXPECT_FALSE(raw_control(status.out)) << status.out;
    EXPECT_NE(status.out.find("boom \\x1b]0;evil"), std::string::npos) << status.out;
    const ProcessResult as_json = dispatch({"status", id, "--json"}, {}, config);
    EXPECT_TRUE(std::all_of(as_json.out.begin(), as_json.out.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x80;
    })) << as_json.out;
    EXPECT_EQ(json::parse(as_json.out)["agents"][0]["reason"], "boom \x1b]0;evil\x07 \u009b31m");

    // What an agent could have written into status.json: labels with escape sequences.
    const std::string status_path = s_runs + "/" + id + "/status.json";
    json forged = json::parse(read_file(status_path));
    forged["labels"] = {{"team", "\x1b[31mred\xc2\x9b"}};
    write_file(status_path, forged.dump(), 0644);
    const ProcessResult listed = dispatch({"list"}, {}, config);
    EXPECT_FALSE(raw_control(listed.out)) << listed.out;
    EXPECT_NE(listed.out.find("team=\\x1b[31mred\\xc2\\x9b"), std::string::npos) << listed.out;
    const ProcessResult shown = dispatch({"status", id}, {}, config);
    EXPECT_FALSE(raw_control(shown.out)) << shown.out;
}

TEST_F(Operate, LabelsAreRecordedAndFilterList) {
    RunOptions ssm;
    ssm.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "SSM_COMMAND_ID=cmd-0123"};
    const std::string labelled = run_id_of(
        dispatch({"--label", "team=infra", "--label", "ticket=OPS-7", "-a", "quick", "run", "x"},
                 ssm)
            .out);
    const std::string failed = run_id_of(dispatch({"-a", "fail", "run", "x"}).out);
    const json status = status_json(labelled);
    EXPECT_EQ(status["labels"]["team"], "infra");
    EXPECT_EQ(status["labels"]["ssm-command-id"], "cmd-0123");
    EXPECT_EQ(json::parse(read_file(s_runs + "/" + labelled + "/run.json"))["labels"]["ticket"],
              "OPS-7");

    const json by_label = json::parse(dispatch({"list", "--json", "--label", "team=infra"}).out);
    ASSERT_EQ(by_label.size(), 1U);
    EXPECT_EQ(by_label[0]["run_id"], labelled);
    EXPECT_EQ(
        json::parse(dispatch({"list", "--json", "--label", "ssm-command-id=cmd-0123"}).out).size(),
        1U);
    const json by_state = json::parse(dispatch({"list", "--json", "--state", "failed"}).out);
    ASSERT_GE(by_state.size(), 1U);
    for (const json& run : by_state) {
        EXPECT_EQ(run["state"], "failed");
    }
    EXPECT_NE(dispatch({"list"}).out.find("team=infra"), std::string::npos);
    EXPECT_EQ(dispatch({"--label", "Bad Key=x", "run", "x"}).exit_code, 2);
    EXPECT_FALSE(failed.empty());
}

} // namespace
