#include <gtest/gtest.h>

#include "runner/status.hpp"

namespace {

fleet::AgentStatus agent(fleet::AgentState state) {
    fleet::AgentStatus status;
    status.name = "a";
    status.state = state;
    return status;
}

TEST(FoldExitCode, CancelledBeatsTimedOutBeatsFailed) {
    using S = fleet::AgentState;
    EXPECT_EQ(fleet::fold_exit_code({agent(S::succeeded)}), 0);
    EXPECT_EQ(fleet::fold_exit_code({agent(S::succeeded), agent(S::failed)}), 1);
    EXPECT_EQ(fleet::fold_exit_code({agent(S::spawn_failed)}), 1);
    EXPECT_EQ(fleet::fold_exit_code({agent(S::failed), agent(S::timed_out)}), 124);
    EXPECT_EQ(fleet::fold_exit_code({agent(S::timed_out), agent(S::cancelled)}), 130);
    EXPECT_EQ(fleet::fold_exit_code({}), 0);
}

TEST(StatusJson, RoundTrips) {
    fleet::RunStatus status;
    status.run_id = "20260109-190805-dztnfw";
    status.state = fleet::RunState::failed;
    status.exit_code = 1;
    status.started_at = "2026-01-09T19:08:05.000Z";
    status.pid = 42;
    fleet::AgentStatus a = agent(fleet::AgentState::failed);
    a.signal = 9;
    a.reason = "signal 9 (SIGKILL)";
    a.bytes = 12345678901ULL;
    status.agents = {a};
    const auto parsed = fleet::run_status_from_json(fleet::to_json(status));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->run_id, status.run_id);
    EXPECT_EQ(parsed->state, fleet::RunState::failed);
    EXPECT_EQ(parsed->exit_code, 1);
    EXPECT_EQ(parsed->agents[0].signal, 9);
    EXPECT_FALSE(parsed->agents[0].exit_code.has_value());
    EXPECT_EQ(parsed->agents[0].bytes, 12345678901ULL);
    EXPECT_EQ(parsed->agents[0].reason, a.reason);
}

TEST(StatusJson, RefusesGarbage) {
    EXPECT_FALSE(fleet::run_status_from_json("").ok());
    EXPECT_FALSE(fleet::run_status_from_json("{\"run_id\": 1}").ok());
    EXPECT_FALSE(fleet::run_status_from_json(
                     R"({"run_id":"x","state":"exploded","started_at":"","agents":[]})")
                     .ok());
}

TEST(StatusJson, NeverEmitsInvalidUtf8) {
    fleet::RunStatus status;
    fleet::AgentStatus a = agent(fleet::AgentState::failed);
    a.reason = "bad \xff byte";
    status.agents = {a};
    EXPECT_TRUE(fleet::run_status_from_json(fleet::to_json(status)).ok());
}

} // namespace
