// dispatch (dispatch_test suite): bad input and configs, reading runs back, planted FIFOs, links.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/dispatch_fixture.hpp"
#include "support/accounts.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

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
    const std::string config = write_config(
        "fifo-log.toml", "[agents.claude]\nbinary = \"" + s_dir + "/fifo-log\"\n" + k_unconfined);
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
    // What an agent running as the user could do: the link is the user's, as the agent's would
    // be (and so Dispatch.NothingUnderTheRunsDirectoryBelongsToRoot holds in any test order).
    fs::create_symlink("/etc/shadow", log);
    ASSERT_EQ(lchown(log.c_str(), s_uid, fleet::test::gid_of_group(s_user)), 0);
    const ProcessResult planted = dispatch({"logs", id});
    EXPECT_NE(planted.exit_code, 0);
    EXPECT_EQ(planted.out.find("root:"), std::string::npos);
}

} // namespace
