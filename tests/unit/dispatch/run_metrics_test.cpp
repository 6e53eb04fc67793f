#include <fcntl.h>
#include <filesystem>
#include <limits>
#include <stdlib.h>
#include <string>
#include <sys/file.h>
#include <sys/stat.h>
#include <vector>

#include <gtest/gtest.h>

#include "dispatch/run_metrics.hpp"
#include "support/files.hpp"
#include "sys/fd.hpp"

namespace fleet {
namespace {

namespace fs = std::filesystem;

AgentStatus agent(const std::string& name, AgentState state) {
    AgentStatus each;
    each.name = name;
    each.state = state;
    each.started_at = "2026-12-01T10:00:00.000Z";
    each.finished_at = "2026-12-01T10:00:12.500Z";
    return each;
}

// claude succeeded (with usage, confinement, limits and what its cgroup counted), codex
// failed, gemini was skipped.
RunStatus a_run() {
    RunStatus status;
    status.run_id = "20261201-100000-abcdef";
    status.state = RunState::failed;
    AgentStatus claude = agent("claude", AgentState::succeeded);
    claude.usage.input_tokens = 1200;
    claude.usage.output_tokens = 300;
    claude.usage.cost_usd = 0.25;
    claude.confinement = Confinement{ConfinementLevel::full, 4, ""};
    claude.limits = AgentLimits{};
    claude.limits->applied = true;
    claude.resources = AgentResources{uint64_t{64} << 20, 1.5, 1, 0};
    status.agents = {claude, agent("codex", AgentState::failed),
                     agent("gemini", AgentState::skipped)};
    return status;
}

bool has_line(const std::string& text, const std::string& line) {
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(RunMetrics, ARunCountsItsOutcomeAndEachAgentThatRan) {
    MetricsState state;
    count_run(state, a_run());
    count_run(state, a_run());
    const std::string text = metrics_text(state);
    EXPECT_TRUE(has_line(text, "# TYPE fleet_dispatch_runs_total counter")) << text;
    EXPECT_TRUE(has_line(text, "fleet_dispatch_runs_total{outcome=\"failed\"} 2")) << text;
    EXPECT_TRUE(has_line(
        text, "fleet_dispatch_agent_runs_total{agent=\"claude\",outcome=\"succeeded\"} 2"));
    EXPECT_TRUE(
        has_line(text, "fleet_dispatch_agent_runs_total{agent=\"codex\",outcome=\"failed\"} 2"));
    EXPECT_EQ(text.find("gemini"), std::string::npos) << "a skipped agent did not run";
    EXPECT_TRUE(has_line(
        text, "fleet_dispatch_agent_last_success_timestamp_seconds{agent=\"claude\"} 1796119212.5"))
        << text;
    EXPECT_EQ(text.find("last_success_timestamp_seconds{agent=\"codex\"}"), std::string::npos);
    EXPECT_TRUE(has_line(text, "fleet_dispatch_agent_last_duration_seconds{agent=\"codex\"} 12.5"));
    EXPECT_TRUE(
        has_line(text, "fleet_dispatch_agent_last_outcome{agent=\"codex\",outcome=\"failed\"} 1"));
    EXPECT_TRUE(has_line(text, "fleet_dispatch_agent_last_input_tokens{agent=\"claude\"} 1200"));
    EXPECT_TRUE(has_line(text, "fleet_dispatch_agent_input_tokens_total{agent=\"claude\"} 2400"));
    EXPECT_TRUE(has_line(text, "fleet_dispatch_agent_cost_usd_total{agent=\"claude\"} 0.5"));
    EXPECT_TRUE(has_line(text, "fleet_dispatch_agent_last_memory_peak_bytes{agent=\"claude\"} "
                               "67108864"));
    EXPECT_TRUE(has_line(text, "fleet_dispatch_agent_oom_kills_total{agent=\"claude\"} 2"));
    EXPECT_TRUE(
        has_line(text, "fleet_dispatch_agent_confinement{agent=\"claude\",level=\"full\"} 1"));
    EXPECT_TRUE(
        has_line(text, "fleet_dispatch_agent_confinement{agent=\"claude\",level=\"none\"} 0"));
    EXPECT_TRUE(has_line(text, "fleet_dispatch_agent_limits_applied{agent=\"claude\"} 1"));
    EXPECT_EQ(text.find("last_cost_usd{agent=\"codex\"}"), std::string::npos)
        << "what was not reported has no series";
}

TEST(RunMetrics, ALostRunCountsItsRunningAgentsAsLost) {
    RunStatus lost;
    lost.state = RunState::lost;
    AgentStatus running = agent("claude", AgentState::running);
    running.finished_at.clear();
    lost.agents = {running, agent("codex", AgentState::pending)};
    MetricsState state;
    count_run(state, lost);
    const std::string text = metrics_text(state);
    EXPECT_TRUE(has_line(text, "fleet_dispatch_runs_total{outcome=\"lost\"} 1")) << text;
    EXPECT_TRUE(
        has_line(text, "fleet_dispatch_agent_runs_total{agent=\"claude\",outcome=\"lost\"} 1"));
    EXPECT_EQ(text.find("codex"), std::string::npos) << "a pending agent never started";
    EXPECT_EQ(text.find("last_duration_seconds{agent=\"claude\"}"), std::string::npos);
}

TEST(RunMetrics, AUsageThatIsNoCountIsNotAdded) {
    MetricsState state;
    count_run(state, a_run()); // control: 0.25 and 1200 counted
    RunStatus hostile = a_run();
    hostile.agents[0].usage.cost_usd = -5;
    hostile.agents[0].usage.input_tokens = std::numeric_limits<uint64_t>::max();
    count_run(state, hostile);
    hostile.agents[0].usage.cost_usd = std::numeric_limits<double>::infinity();
    count_run(state, hostile);
    const AgentMetrics& claude = state.agents.at("claude");
    EXPECT_EQ(claude.cost_usd_total, 0.25);
    EXPECT_EQ(claude.input_tokens_total, std::numeric_limits<uint64_t>::max()) << "saturated";
    EXPECT_FALSE(claude.last_cost_usd);
    EXPECT_TRUE(metrics_state_from_json(to_json(state))) << "the state still reads back";
}

TEST(RunMetrics, TheStateFileReadsBackAsWritten) {
    MetricsState state;
    count_run(state, a_run());
    const Result<MetricsState> read = metrics_state_from_json(to_json(state));
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(to_json(*read), to_json(state));
    EXPECT_EQ(metrics_text(*read), metrics_text(state));
}

TEST(RunMetrics, AStateFileNotOursIsAnError) {
    for (const std::string& text : std::vector<std::string>{
             "", "[]", "{\"version\":2,\"runs\":{},\"agents\":{}}",
             "{\"version\":1,\"runs\":{\"failed\":-1},\"agents\":{}}",
             "{\"version\":1,\"runs\":[3],\"agents\":{}}",
             "{\"version\":1,\"runs\":{\"failed\":1.5},\"agents\":{}}",
             "{\"version\":1,\"runs\":{},\"agents\":{\"claude\":{\"runs\":\"many\"}}}"}) {
        EXPECT_FALSE(metrics_state_from_json(text)) << text;
    }
    EXPECT_TRUE(metrics_state_from_json("{\"version\":1,\"runs\":{},\"agents\":{}}")); // control
}

// The state file is the user's: a name that would need escaping in a label never reaches the
// exposition (it would break the whole file for the collector).
TEST(RunMetrics, ANameThatWouldNeedEscapingIsLeftOut) {
    MetricsState state;
    count_run(state, a_run());
    state.agents["x\"} 1\nforged_total 9"] = state.agents["claude"];
    state.runs["bad\"label"] = 1;
    const std::string text = metrics_text(state);
    EXPECT_EQ(text.find("forged"), std::string::npos) << text;
    EXPECT_EQ(text.find("bad"), std::string::npos) << text;
    EXPECT_NE(text.find("agent=\"claude\""), std::string::npos); // control
}

TEST(RunMetrics, TheMetricsFileMustBeAPromFileInADirectoryThatExists) {
    const std::string dir = fs::temp_directory_path().string();
    EXPECT_TRUE(check_metrics_file(dir + "/fleet_dispatch.prom")); // control
    for (const std::string& bad : std::vector<std::string>{
             "fleet_dispatch.prom", dir + "/fleet_dispatch.txt", dir + "/.prom",
             dir + "/no-such-dir/x.prom", dir + "/fleet_dispatch.prom/x.prom"}) {
        const Status checked = check_metrics_file(bad);
        EXPECT_FALSE(checked) << bad;
        if (!checked) {
            EXPECT_EQ(checked.error().kind, ErrorKind::invalid_input);
            EXPECT_EQ(checked.error().message.find('\n'), std::string::npos);
        }
    }
}

class RecordRunMetrics : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = fs::temp_directory_path().string() + "/fl-metrics-XXXXXX";
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        m_dir = pattern;
        fs::create_directory(m_dir + "/runs");
        fs::create_directory(m_dir + "/prom");
        m_file = m_dir + "/prom/fleet_dispatch.prom";
    }
    void TearDown() override { fs::remove_all(m_dir); }
    std::string m_dir, m_file;
};

TEST_F(RecordRunMetrics, EachRunRewritesTheFileWholeAndReadableByTheCollector) {
    const mode_t saved = umask(077);
    EXPECT_EQ(record_run_metrics(m_file, m_dir + "/runs", a_run()), "");
    EXPECT_EQ(record_run_metrics(m_file, m_dir + "/runs", a_run()), "");
    umask(saved);
    struct stat info {};
    ASSERT_EQ(stat(m_file.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0644U) << "whatever the umask";
    EXPECT_TRUE(
        has_line(test::read_file(m_file), "fleet_dispatch_runs_total{outcome=\"failed\"} 2"));
    EXPECT_EQ(std::distance(fs::directory_iterator(m_dir + "/prom"), fs::directory_iterator()), 1)
        << "no temp file left";
    EXPECT_TRUE(fs::exists(m_dir + "/runs/metrics.json"));
    EXPECT_EQ(record_run_metrics("", m_dir + "/runs", a_run()), "") << "off: nothing";
}

TEST_F(RecordRunMetrics, AStateFileThatIsALinkIsNotFollowed) {
    // A state that would read (5 failed runs): followed, the count would say 6.
    const std::string elsewhere = "{\"version\":1,\"runs\":{\"failed\":5},\"agents\":{}}";
    test::write_file(m_dir + "/elsewhere.json", elsewhere, 0600);
    fs::create_symlink(m_dir + "/elsewhere.json", m_dir + "/runs/metrics.json");
    EXPECT_NE(record_run_metrics(m_file, m_dir + "/runs", a_run()).find("counters start again"),
              std::string::npos);
    EXPECT_EQ(test::read_file(m_dir + "/elsewhere.json"), elsewhere);
    EXPECT_FALSE(fs::is_symlink(m_dir + "/runs/metrics.json")) << "replaced, not written through";
    EXPECT_TRUE(
        has_line(test::read_file(m_file), "fleet_dispatch_runs_total{outcome=\"failed\"} 1"));
}

// A holder that never lets go (an unconfined agent is the same user) costs the numbers of
// this run, never its end.
TEST_F(RecordRunMetrics, ALockHeldTooLongIsGivenUpOn) {
    const Fd held(
        ::open((m_dir + "/runs/metrics.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_EQ(::flock(held.get(), LOCK_EX), 0);
    EXPECT_NE(record_run_metrics(m_file, m_dir + "/runs", a_run()).find("lock "),
              std::string::npos);
    EXPECT_FALSE(fs::exists(m_file));
    ASSERT_EQ(::flock(held.get(), LOCK_UN), 0);
    EXPECT_EQ(record_run_metrics(m_file, m_dir + "/runs", a_run()), ""); // control
}

TEST_F(RecordRunMetrics, WhatCannotBeWrittenIsSaidNotThrown) {
    fs::remove(m_dir + "/prom");
    const std::string said = record_run_metrics(m_file, m_dir + "/runs", a_run());
    EXPECT_NE(said.find("metrics_file: directory " + m_dir + "/prom"), std::string::npos) << said;
    EXPECT_NE(record_run_metrics(m_file, m_dir + "/no-runs", a_run()), "");
}

} // namespace
} // namespace fleet
