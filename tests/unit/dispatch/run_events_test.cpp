#include <chrono>
#include <map>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "base/system_log.hpp"
#include "dispatch/run_events.hpp"
#include "support/files.hpp"

namespace fleet {
namespace {

RunStatus two_agents(RunState state, int exit_code) {
    RunStatus status;
    status.run_id = "20261201-100000-abcdef";
    status.state = state;
    status.exit_code = exit_code;
    status.started_at = "2026-12-01T10:00:00.000Z";
    status.finished_at = "2026-12-01T10:00:12.345Z";
    status.labels = {{"ticket", "OPS-7"}};
    AgentStatus claude;
    claude.name = "claude";
    claude.state = AgentState::succeeded;
    AgentStatus codex;
    codex.name = "codex";
    codex.state = state == RunState::succeeded ? AgentState::succeeded : AgentState::failed;
    status.agents = {claude, codex};
    return status;
}

const RunEventContext k_context{"run", "ubuntu", ""};

std::string field(const LogEvent& event, const std::string& name) {
    for (const LogField& each : event.fields) {
        if (each.name == name) {
            return each.value;
        }
    }
    return "(none)";
}

TEST(RunEvents, TheStartSaysWhatRunsAsWhom) {
    const LogEvent start = run_start_event(two_agents(RunState::running, 0), k_context);
    EXPECT_EQ(start.severity, Severity::info);
    EXPECT_EQ(start.message, "run 20261201-100000-abcdef start task=run agents=claude,codex "
                             "user=ubuntu label.ticket=OPS-7");
    EXPECT_EQ(field(start, "FLEET_EVENT"), "start");
    EXPECT_EQ(field(start, "FLEET_RUN_ID"), "20261201-100000-abcdef");
    EXPECT_EQ(field(start, "FLEET_AGENTS"), "claude,codex");
    EXPECT_EQ(field(start, "FLEET_TASK"), "run");
    EXPECT_EQ(field(start, "FLEET_USER"), "ubuntu");
    EXPECT_EQ(field(start, "FLEET_LABELS"), "ticket=OPS-7");
}

TEST(RunEvents, TheEndSaysHowItEnded) {
    const WallTime now = std::chrono::system_clock::now();
    const LogEvent end = run_end_event(two_agents(RunState::failed, 1), k_context, now);
    EXPECT_EQ(end.severity, Severity::warning);
    EXPECT_EQ(end.message, "run 20261201-100000-abcdef end outcome=failed exit=1 duration=12.3s "
                           "agents=claude:succeeded,codex:failed task=run user=ubuntu "
                           "label.ticket=OPS-7");
    EXPECT_EQ(field(end, "FLEET_EVENT"), "end");
    EXPECT_EQ(field(end, "FLEET_OUTCOME"), "failed");
    EXPECT_EQ(field(end, "FLEET_EXIT_CODE"), "1");
    EXPECT_EQ(field(end, "FLEET_DURATION_SECONDS"), "12.3");
    EXPECT_EQ(field(end, "FLEET_AGENT_STATES"), "claude=succeeded codex=failed");
    EXPECT_EQ(field(end, "FLEET_REASON"), "(none)");
    // The fields a filter needs lead, so that they are the ones kept.
    ASSERT_GE(end.fields.size(), 4U);
    EXPECT_EQ(end.fields[1].name, "FLEET_RUN_ID");
    EXPECT_EQ(end.fields[2].name, "FLEET_OUTCOME");
    EXPECT_EQ(end.fields[3].name, "FLEET_EXIT_CODE");
}

TEST(RunEvents, SeverityFollowsTheOutcome) {
    const WallTime now = std::chrono::system_clock::now();
    const std::map<RunState, Severity> expected = {{RunState::succeeded, Severity::info},
                                                   {RunState::cancelled, Severity::notice},
                                                   {RunState::failed, Severity::warning},
                                                   {RunState::timed_out, Severity::warning},
                                                   {RunState::lost, Severity::err}};
    for (const auto& [state, severity] : expected) {
        EXPECT_EQ(run_end_event(two_agents(state, 0), k_context, now).severity, severity)
            << to_string(state);
    }
}

// The outer's end of a killed runner: lost, its reason, the time so far.
TEST(RunEvents, ALostRunSaysWhy) {
    RunStatus status = two_agents(RunState::lost, 3);
    status.finished_at.clear();
    WallTime started;
    ASSERT_TRUE(parse_timestamp(status.started_at, started));
    const RunEventContext killed{"run", "ubuntu", "the runner ended with signal 9"};
    const LogEvent end = run_end_event(status, killed, started + std::chrono::seconds(90));
    EXPECT_EQ(field(end, "FLEET_OUTCOME"), "lost");
    EXPECT_EQ(field(end, "FLEET_DURATION_SECONDS"), "90.0");
    EXPECT_EQ(field(end, "FLEET_REASON"), "the runner ended with signal 9");
    EXPECT_NE(end.message.find(" reason=\"the runner ended with signal 9\""), std::string::npos)
        << end.message;
}

// A label is the caller's text: it cannot add a journal field or a syslog line, nor pose as
// the outcome in the message. The control: a plain label is there as it was given.
TEST(RunEvents, AHostileLabelStaysOneValue) {
    RunStatus status = two_agents(RunState::failed, 1);
    status.labels = {{"a", "x\nFLEET_OUTCOME=succeeded"}, {"b", "y outcome=succeeded exit=0"}};
    const LogEvent end = run_end_event(status, k_context, std::chrono::system_clock::now());
    const std::string datagram = journal_datagram(end, k_log_ident, 1);
    size_t outcomes = 0;
    for (const std::string& line : test::lines_of(datagram)) {
        outcomes += line.rfind("FLEET_OUTCOME=", 0) == 0 ? 1 : 0;
    }
    EXPECT_EQ(outcomes, 1U) << datagram;
    EXPECT_NE(datagram.find("\nFLEET_OUTCOME=failed\n"), std::string::npos) << datagram;
    EXPECT_NE(end.message.find(" label.a=\"x\\\\x0aFLEET_OUTCOME=succeeded\""), std::string::npos)
        << end.message;
    EXPECT_NE(end.message.find(" label.b=\"y outcome=succeeded exit=0\""), std::string::npos)
        << end.message;
    EXPECT_EQ(end.message.find("outcome="), end.message.find(" outcome=failed") + 1);
    const std::string line = syslog_datagram(end, k_log_ident, 1, std::chrono::system_clock::now());
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;

    status.labels = {{"a", "plain"}};
    EXPECT_NE(run_end_event(status, k_context, std::chrono::system_clock::now())
                  .message.find(" label.a=plain"),
              std::string::npos);
}

// run_events: "syslog" (the default) or "off", nothing else. Each refusal has its control.
TEST(RunEvents, TheSettingIsStrict) {
    const Result<Config> none = parse_config("", "cfg");
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none->run_events, RunEventsMode::syslog);
    for (const auto& [text, mode] : {std::pair{"run_events = \"off\"", RunEventsMode::off},
                                     std::pair{"run_events = \"syslog\"", RunEventsMode::syslog}}) {
        const Result<Config> config = parse_config(text, "cfg");
        ASSERT_TRUE(config.ok()) << text;
        EXPECT_EQ(config->run_events, mode) << text;
    }
    for (const char* bad : {"run_events = \"journal\"", "run_events = \"\"", "run_events = \"Off\"",
                            "run_events = false"}) {
        const Result<Config> config = parse_config(bad, "cfg");
        ASSERT_FALSE(config.ok()) << bad;
        EXPECT_NE(config.error().message.find("run_events"), std::string::npos)
            << bad << " -> " << config.error().message;
    }
}

TEST(RunEvents, OffSendsNothing) {
    const LogEvent start = run_start_event(two_agents(RunState::running, 0), k_context);
    EXPECT_EQ(emit_run_event(RunEventsMode::off, start, 1), "");
    EXPECT_STREQ(to_string(RunEventsMode::off), "off");
    EXPECT_STREQ(to_string(RunEventsMode::syslog), "syslog");
}

} // namespace
} // namespace fleet
