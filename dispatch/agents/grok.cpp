#include "dispatch/agents/agent_cli.hpp"
#include "dispatch/agents/outcome_text.hpp"

namespace fleet {

namespace {

using nlohmann::json;

AgentOutcome read_grok(const std::string& log, std::optional<int> /*exit_code*/) {
    AgentOutcome outcome;
    for_each_json_line(log, [&](const json& line) {
        // "Error: ..." (exit 1) for its own errors; an API error in the model call (0.0.34,
        // found by make e2e) is "Sorry, I encountered an error: Grok API error: 401 ..." with
        // exit 0.
        constexpr std::string_view k_sorry = "Sorry, I encountered an error: ";
        const std::string content = string_at(line, "content");
        if (string_at(line, "role") != "assistant") {
            return;
        }
        if (content.rfind("Error:", 0) == 0) {
            outcome.failed = true;
            outcome.reason = reason_from_message(content);
        } else if (content.rfind(k_sorry, 0) == 0) {
            outcome.failed = true;
            outcome.reason = reason_from_message(content.substr(k_sorry.size()));
        }
    });
    return outcome;
}

} // namespace

// Grok CLI (docs/design/agent-clis.md §4): -p PROMPT, the one CLI without stdin or file input.
// Keys and base URL only by environment (-k/-u are persisted to disk by grok). Outcome: an
// assistant message starting "Error:", or an apology with exit 0. It exits 0 on SIGTERM: the
// runner's own timed_out/cancelled state wins.
const AgentCli& grok_cli() {
    static const AgentCli cli{
        "grok",
        {},
        PromptInput::argv,
        {},
        {},
        [](const std::string& url, AgentCommand& command) { command.env["GROK_BASE_URL"] = url; },
        read_grok,
        {".grok"},
        nullptr,
        "dispatch-grok.sh",
    };
    return cli;
}

} // namespace fleet
