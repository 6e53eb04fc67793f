#include "base/toml_check.hpp"
#include "dispatch/agents/agent_cli.hpp"
#include "dispatch/agents/outcome_text.hpp"

namespace fleet {

namespace {

using nlohmann::json;

AgentOutcome read_codex(const std::string& log, std::optional<int> /*exit_code*/) {
    AgentOutcome outcome;
    for_each_json_line(log, [&](const json& line) {
        const std::string type = string_at(line, "type");
        if (type == "turn.completed") {
            if (const auto usage = line.find("usage"); usage != line.end() && usage->is_object()) {
                outcome.usage.input_tokens = outcome.usage.input_tokens.value_or(0) +
                                             number_at(*usage, "input_tokens").value_or(0);
                outcome.usage.output_tokens = outcome.usage.output_tokens.value_or(0) +
                                              number_at(*usage, "output_tokens").value_or(0);
            }
            outcome.usage.turns = outcome.usage.turns.value_or(0) + 1;
        } else if (type == "turn.failed" || type == "error") {
            outcome.failed = true;
            std::string message = string_at(line, "message");
            if (const auto error = line.find("error"); error != line.end() && error->is_object()) {
                message = string_at(*error, "message");
            }
            if (outcome.reason.empty()) {
                outcome.reason = reason_from_message(message);
            }
        }
    });
    return outcome;
}

} // namespace

// Codex (docs/design/agent-clis.md §2): exec --json with the prompt on stdin ("-"), so it
// never waits for or appends other input. A base URL becomes a provider entry
// (-c model_provider=fleet, -c model_providers.fleet=..., supports_websockets=false): its
// environment variable was removed upstream. Outcome: turn.failed / error events; usage from
// turn.completed.
const AgentCli& codex_cli() {
    static const AgentCli cli{
        "codex",
        {"exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox"},
        PromptInput::stdin_file,
        {"-"}, // read the prompt from stdin, nothing else
        {},
        [](const std::string& url, AgentCommand& command) {
            command.args.insert(
                command.args.end(),
                {"-c", "model_provider=\"fleet\"", "-c",
                 "model_providers.fleet={ name = \"fleet\", base_url = " + toml_quote(url) +
                     ", env_key = \"CODEX_API_KEY\", wire_api = \"responses\", "
                     "supports_websockets = false }"});
        },
        read_codex,
        {".codex"},
        nullptr,
        "dispatch-codex.sh",
    };
    return cli;
}

} // namespace fleet
