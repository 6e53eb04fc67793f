#include <algorithm>
#include <fcntl.h>
#include <filesystem>
#include <stdlib.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "dispatch/fleet_runs.hpp"
#include "support/files.hpp"
#include "sys/fd.hpp"

namespace fleet {
namespace {

namespace fs = std::filesystem;

constexpr const char* k_id = "20261201-100000-abcdef";

RunStatus a_status(const std::string& id = k_id) {
    RunStatus status;
    status.run_id = id;
    status.state = RunState::failed;
    status.exit_code = 1;
    status.started_at = "2026-12-01T10:00:00.000Z";
    status.finished_at = "2026-12-01T10:05:00.000Z";
    status.labels = {{"ticket", "ops-7"}};
    AgentStatus claude;
    claude.name = "claude";
    claude.state = AgentState::failed;
    claude.reason = "API error 401";
    claude.usage.cost_usd = 0.5;
    claude.repo = AgentRepo{};
    claude.repo->changed = true;
    status.agents = {claude};
    return status;
}

FleetRun a_run() {
    FleetRun run;
    run.host = "web-1";
    run.run_id = k_id;
    run.status = a_status();
    run.diffstat = {{"claude", " a.txt | 2 +-\n"}};
    run.log_tail = {{"claude", "line\n<script>alert(1)</script>\n"}};
    return run;
}

TEST(FleetRuns, ALineReadsBackAsTheRunItWasWrittenFrom) {
    const FleetRun read = run_from_json_line(to_json_line(a_run()), "web-1");
    ASSERT_EQ(read.unreadable, "");
    EXPECT_EQ(read.run_id, k_id);
    EXPECT_EQ(to_json(read.status), to_json(a_status()));
    EXPECT_EQ(read.diffstat, a_run().diffstat);
    EXPECT_EQ(read.log_tail, a_run().log_tail);
}

TEST(FleetRuns, TheHostIsWhereTheLineWasFoundNotWhatItSays) {
    EXPECT_EQ(run_from_json_line(to_json_line(a_run()), "db-2").host, "db-2");
}

TEST(FleetRuns, ALineThatIsNoRunIsAnUnreadableRun) {
    const std::string good = to_json_line(a_run());
    std::string wrong_type = good;
    wrong_type.replace(wrong_type.find("\"state\":\"failed\""), 16, "\"state\":5");
    for (const std::string& line :
         {good.substr(0, good.size() / 2), std::string("[1,2]"), std::string("{}"),
          std::string("{\"run_id\":\"../../etc\",\"status\":{}}"), wrong_type,
          std::string("{\"run_id\":\"") + k_id + "\",\"status\":\"running\"}"}) {
        const FleetRun run = run_from_json_line(line, "web-1");
        EXPECT_NE(run.unreadable, "") << line;
        EXPECT_EQ(run.host, "web-1");
    }
    EXPECT_EQ(run_from_json_line(wrong_type, "web-1").run_id, k_id) << "as much as could be read";
    EXPECT_EQ(run_from_json_line(good, "web-1").unreadable, "") << "control";
}

TEST(FleetRuns, TextsAreCappedAndOnlyTheRunsAgentsKept) {
    FleetRun run = a_run();
    run.log_tail["claude"] = std::string(100000, 'x') + "END";
    run.diffstat["claude"] = std::string(k_max_diffstat_bytes + 1, 'y');
    run.log_tail["stranger"] = "not an agent of this run";
    const FleetRun read = run_from_json_line(to_json_line(run), "web-1");
    ASSERT_EQ(read.unreadable, "");
    EXPECT_EQ(read.log_tail.at("claude").size(), k_max_tail_bytes);
    EXPECT_EQ(read.log_tail.at("claude").substr(k_max_tail_bytes - 3), "END") << "the end kept";
    EXPECT_FALSE(read.diffstat.contains("claude")) << "too long: left out";
    EXPECT_FALSE(read.log_tail.contains("stranger"));
}

TEST(FleetRuns, TheFilterKeepsRunsSinceAndWithTheLabels) {
    WallTime noon{};
    ASSERT_TRUE(parse_timestamp("2026-12-01T12:00:00.000Z", noon));
    FleetFilter filter;
    EXPECT_TRUE(keep_run(a_run(), filter)) << "control: no filter";
    filter.since = noon;
    EXPECT_FALSE(keep_run(a_run(), filter)) << "started at 10:00";
    filter.since = noon - std::chrono::hours(3);
    EXPECT_TRUE(keep_run(a_run(), filter));
    FleetRun unreadable;
    unreadable.run_id = k_id;
    unreadable.unreadable = "cut short";
    EXPECT_TRUE(keep_run(unreadable, filter)) << "by its id's time";
    filter.labels = {{"ticket", "ops-8"}};
    EXPECT_FALSE(keep_run(a_run(), filter));
    EXPECT_TRUE(keep_run(unreadable, filter)) << "what cannot be read is shown";
    filter.labels = {{"ticket", "ops-7"}};
    EXPECT_TRUE(keep_run(a_run(), filter));
}

TEST(FleetRuns, AStatusWhoseAgentsAreNoAgentsIsUnreadable) {
    FleetRun run = a_run();
    run.status.agents.push_back(run.status.agents[0]);
    EXPECT_NE(run_from_json_line(to_json_line(run), "h").unreadable.find("named twice"),
              std::string::npos);
    run = a_run();
    run.status.agents[0].name = "../x";
    EXPECT_NE(run_from_json_line(to_json_line(run), "h").unreadable, "");
    run = a_run();
    for (size_t i = 0; i <= k_max_agents; ++i) {
        AgentStatus more;
        more.name = "a" + std::to_string(i);
        run.status.agents.push_back(more);
    }
    EXPECT_NE(run_from_json_line(to_json_line(run), "h").unreadable.find("more than 256 agents"),
              std::string::npos);
    EXPECT_EQ(run_from_json_line(to_json_line(a_run()), "h").unreadable, "") << "control";
}

TEST(FleetRuns, TheLineIsAscii) {
    FleetRun run = a_run();
    run.status.agents[0].reason = "\xc2\x9b"
                                  "2J"; // U+009B, CSI
    run.log_tail["claude"] = "caf\xc3\xa9\n";
    const std::string line = to_json_line(run);
    EXPECT_TRUE(std::all_of(line.begin(), line.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x80;
    })) << line;
    EXPECT_EQ(run_from_json_line(line, "h").log_tail.at("claude"), "caf\xc3\xa9\n");
}

class FetchedRuns : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = fs::temp_directory_path() / "fl-fleet-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        m_dir = pattern;
    }
    void TearDown() override { fs::remove_all(m_dir); }

    void put(const std::string& path, const std::string& text) {
        fs::create_directories(fs::path(m_dir + "/" + path).parent_path());
        test::write_file(m_dir + "/" + path, text, 0644);
    }

    std::string m_dir;
};

TEST_F(FetchedRuns, EachLayoutIsReadWithItsHost) {
    put("web-1/runs.jsonl", to_json_line(a_run()) + "\n");
    // SSM's output: the command printed more than the lines, and was cut short.
    const std::string line = to_json_line(a_run());
    put("0a1b-cmd/i-0123456789abcdef0/awsrunShellScript/0.awsrunShellScript/stdout",
        "starting\n" + line + "\n" + line.substr(0, 40));
    put("db-2/20261201-110000-zzzzzz/status.json", to_json(a_status("20261201-110000-zzzzzz")));
    put("db-2/20261201-110000-zzzzzz/claude.log", "one\ntwo\n");
    put("db-2/20261201-110000-zzzzzz/claude.diffstat", " b | 1 +\n");
    put("db-2/20261201-120000-yyyyyy/status.json", "{\"run_id\": \"20261201-12");
    std::vector<std::string> warnings;
    const Result<std::vector<FleetRun>> runs = read_fetched_runs(m_dir, {}, warnings);
    ASSERT_TRUE(runs) << runs.error().message;
    ASSERT_EQ(runs->size(), 5U);
    EXPECT_EQ((*runs)[0].run_id, "20261201-120000-yyyyyy");
    EXPECT_NE((*runs)[0].unreadable.find("status.json"), std::string::npos) << "cut short";
    EXPECT_EQ((*runs)[1].host, "db-2");
    EXPECT_EQ((*runs)[1].log_tail.at("claude"), "one\ntwo\n");
    EXPECT_EQ((*runs)[1].diffstat.at("claude"), " b | 1 +\n");
    EXPECT_EQ((*runs)[2].host, "i-0123456789abcdef0") << "the instance id, not the command's";
    EXPECT_EQ((*runs)[2].unreadable, "");
    EXPECT_EQ((*runs)[3].host, "web-1");
    EXPECT_EQ((*runs)[4].host, "i-0123456789abcdef0");
    EXPECT_NE((*runs)[4].unreadable, "") << "the line cut short";
    EXPECT_TRUE(warnings.empty());
}

TEST_F(FetchedRuns, ALinkIsNeverFollowed) {
    put("outside/runs.jsonl", to_json_line(a_run()) + "\n");
    fs::create_directory(m_dir + "/fleet");
    fs::create_directory_symlink(m_dir + "/outside", m_dir + "/fleet/web-9");
    std::vector<std::string> warnings;
    Result<std::vector<FleetRun>> runs = read_fetched_runs(m_dir + "/fleet", {}, warnings);
    ASSERT_TRUE(runs);
    EXPECT_TRUE(runs->empty());
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_NE(warnings[0].find("./web-9: a symbolic link"), std::string::npos) << warnings[0];
    runs = read_fetched_runs(m_dir + "/outside/..", {}, warnings); // control: the file reads
    ASSERT_TRUE(runs);
    EXPECT_EQ(runs->size(), 1U);
}

TEST_F(FetchedRuns, OnlyRegularFilesAndDirectoriesWithinTheDepthAreRead) {
    put("outside/runs.jsonl", to_json_line(a_run()) + "\n");
    fs::create_directories(m_dir + "/fleet/web-1");
    fs::create_symlink(m_dir + "/outside/runs.jsonl", m_dir + "/fleet/web-1/runs.jsonl");
    fs::create_directories(m_dir + "/fleet/web-2");
    ASSERT_EQ(::mkfifo((m_dir + "/fleet/web-2/runs.jsonl").c_str(), 0644), 0);
    put("fleet/a/b/c/d/e/f/web-3/runs.jsonl", to_json_line(a_run()) + "\n");
    put("fleet/web-4/runs.jsonl", to_json_line(a_run()) + "\n"); // control
    std::vector<std::string> warnings;
    const Result<std::vector<FleetRun>> runs = read_fetched_runs(m_dir + "/fleet", {}, warnings);
    ASSERT_TRUE(runs);
    ASSERT_EQ(runs->size(), 1U);
    EXPECT_EQ((*runs)[0].host, "web-4");
    std::string all;
    for (const std::string& warning : warnings) {
        all += warning + "\n";
    }
    EXPECT_NE(all.find("./web-1/runs.jsonl: a symbolic link"), std::string::npos) << all;
    EXPECT_NE(all.find("./web-2/runs.jsonl: "), std::string::npos) << all;
    EXPECT_NE(all.find("deeper than any layout"), std::string::npos) << all;
}

TEST_F(FetchedRuns, TheSameRunTwiceCountsOnceAndNamelessLinesAsOne) {
    const std::string line = to_json_line(a_run());
    put("fleet/web-1/runs.jsonl", line + "\n{}\n{}\n{\"run_id\":5}\n");
    put("fleet/web-1/again/runs.jsonl", line + "\n"); // host "again": another host
    put("older/web-1/runs.jsonl", line + "\n");
    std::vector<std::string> warnings;
    Result<std::vector<FleetRun>> runs = read_fetched_runs(m_dir + "/fleet", {}, warnings);
    ASSERT_TRUE(runs);
    ASSERT_EQ(runs->size(), 3U) << "web-1's run, again's, and the nameless lines";
    EXPECT_NE((*runs)[2].unreadable.find("3 lines of ./web-1/runs.jsonl naming no run"),
              std::string::npos)
        << (*runs)[2].unreadable;
    std::vector<FleetRun> both = *runs;
    runs = read_fetched_runs(m_dir + "/older", {}, warnings);
    ASSERT_TRUE(runs);
    both.insert(both.end(), runs->begin(), runs->end());
    newest_first(both);
    EXPECT_EQ(both.size(), 3U) << "web-1's run from the second directory is the same run";
}

TEST_F(FetchedRuns, AHugeLogIsReadFromItsEndOnly) {
    const std::string run = "web-1/20261201-110000-zzzzzz";
    put(run + "/status.json", to_json(a_status("20261201-110000-zzzzzz")));
    const Fd log(
        ::open((m_dir + "/" + run + "/claude.log").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_TRUE(log.valid());
    const off_t huge = off_t{1} << 40; // sparse: a tebibyte of nothing, then a line
    ASSERT_EQ(::pwrite(log.get(), "last\n", 5, huge), 5);
    std::vector<std::string> warnings;
    const Result<std::vector<FleetRun>> runs = read_fetched_runs(m_dir, {}, warnings);
    ASSERT_TRUE(runs);
    ASSERT_EQ(runs->size(), 1U);
    const std::string& tail = (*runs)[0].log_tail.at("claude");
    EXPECT_EQ(tail.size(), k_max_tail_bytes);
    EXPECT_EQ(tail.substr(tail.size() - 5), "last\n");
}

TEST_F(FetchedRuns, ADirectoryThatCannotBeOpenedIsAnError) {
    std::vector<std::string> warnings;
    const Result<std::vector<FleetRun>> runs = read_fetched_runs(m_dir + "/none", {}, warnings);
    ASSERT_FALSE(runs);
    EXPECT_EQ(runs.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(runs.error().message.find("No such file"), std::string::npos);
}

} // namespace
} // namespace fleet
