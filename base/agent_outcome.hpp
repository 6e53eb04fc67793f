// What an agent's own output says beyond its exit status: the vocabulary the agent parsers
// (dispatch/agents) produce and the runner records in status.json. Plain values, no code, so
// no test of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace fleet {

// What an agent reported about its use of the model, when its CLI reports it.
struct AgentUsage {
    std::optional<uint64_t> input_tokens;
    std::optional<uint64_t> output_tokens;
    std::optional<double> cost_usd;
    std::optional<int> turns;
    bool empty() const { return !input_tokens && !output_tokens && !cost_usd && !turns; }
};

// What an agent's own output says beyond its exit status (dispatch/agents reads it).
struct AgentOutcome {
    bool failed = false; // the agent reported a failure, even if it exited 0
    std::string reason;  // short: "API error 401", "not logged in", "max turns"
    AgentUsage usage;
};

} // namespace fleet
