#include <limits>

#include "dispatch/agents/agent_cli.hpp"
#include "dispatch/agents/outcome_text.hpp"

namespace fleet {

namespace {

using nlohmann::json;

AgentOutcome read_claude(const std::string& log, std::optional<int> exit_code) {
    AgentOutcome outcome;
    std::optional<json> result;
    for_each_json_line(log, [&](const json& line) {
        if (string_at(line, "type") == "result") {
            result = line;
        }
    });
    if (!result) {
        // SIGTERM leaves no result record (exit 143); an exit 0 without one is no success.
        if (exit_code && *exit_code == 0) {
            outcome.failed = true;
            outcome.reason = "no result record in the output";
        }
        return outcome;
    }
    if (const auto usage = result->find("usage"); usage != result->end() && usage->is_object()) {
        outcome.usage.input_tokens = number_at(*usage, "input_tokens");
        outcome.usage.output_tokens = number_at(*usage, "output_tokens");
    }
    if (const auto cost = result->find("total_cost_usd");
        cost != result->end() && cost->is_number()) {
        outcome.usage.cost_usd = cost->get<double>();
    }
    if (const auto turns = number_at(*result, "num_turns");
        turns && *turns <= static_cast<uint64_t>(std::numeric_limits<int>::max())) {
        outcome.usage.turns = static_cast<int>(*turns);
    }
    // Judge by is_error, never by subtype: API errors come with subtype "success". A record
    // whose is_error is not a boolean says nothing we can trust: a failure.
    const auto is_error = result->find("is_error");
    if (is_error != result->end() && !is_error->is_boolean()) {
        outcome.failed = true;
        outcome.reason = "result record without a boolean is_error";
        return outcome;
    }
    if (is_error != result->end() && is_error->get<bool>()) {
        outcome.failed = true;
        const std::string subtype = string_at(*result, "subtype");
        if (const auto status = number_at(*result, "api_error_status")) {
            outcome.reason = "API error " + std::to_string(*status);
        } else if (subtype == "error_max_turns") {
            outcome.reason = "max turns";
        } else if (subtype == "error_max_budget_usd") {
            outcome.reason = "max budget";
        } else {
            outcome.reason = reason_from_message(string_at(*result, "result"));
            if (outcome.reason.empty()) {
                outcome.reason = short_text(subtype); // the agent's text: one short line
            }
        }
    }
    return outcome;
}

} // namespace

// Claude Code (docs/design/agent-clis.md §1): -p with the prompt on stdin; stream-json needs
// --verbose in print mode. Outcome: the last {"type":"result"} record's is_error (never its
// subtype); no result record is a failure; usage from usage, total_cost_usd, num_turns.
const AgentCli& claude_cli() {
    static const AgentCli cli{
        "claude",
        {"-p", "--dangerously-skip-permissions", "--output-format", "stream-json", "--verbose"},
        PromptInput::stdin_file,
        {},
        {{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"}},
        [](const std::string& url, AgentCommand& command) {
            command.env["ANTHROPIC_BASE_URL"] = url;
        },
        read_claude,
        {".claude", ".claude.json"},
        nullptr,
        "", // the old dispatch.sh ran the default agent, not claude by name
    };
    return cli;
}

} // namespace fleet
