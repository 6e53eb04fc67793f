#include "dispatch/agents/adapters.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/toml_check.hpp"

namespace fleet {

namespace {

using nlohmann::json;

constexpr size_t k_max_reason = 160;
// The CLIs' records nest a few levels; anything deeper is skipped unparsed.
constexpr int k_max_json_depth = 64;

const std::vector<Adapter>& adapters() {
    static const std::vector<Adapter> table = {
        {"claude",
         {"-p", "--dangerously-skip-permissions", "--output-format", "stream-json", "--verbose"},
         PromptInput::stdin_file,
         {{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"}}},
        {"aider",
         {"--yes-always", "--no-auto-commits", "--no-check-update", "--analytics-disable",
          "--no-show-model-warnings", "--no-pretty", "--no-fancy-input"},
         PromptInput::file_argument,
         {{"LITELLM_LOCAL_MODEL_COST_MAP", "True"}}},
        {"codex",
         {"exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox"},
         PromptInput::stdin_file,
         {}},
        {"gemini",
         {"--yolo", "--output-format", "stream-json"},
         PromptInput::stdin_file,
         {{"GEMINI_CLI_TRUST_WORKSPACE", "true"}, {"GEMINI_CLI_NO_RELAUNCH", "true"}}},
        {"grok", {}, PromptInput::argv, {}},
    };
    return table;
}

// First line of `text`, trimmed and cut to a short reason.
std::string short_text(const std::string& text) {
    std::string line = text.substr(0, text.find('\n'));
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())) != 0) {
        line.pop_back();
    }
    if (line.size() > k_max_reason) {
        line = line.substr(0, k_max_reason - 3) + "...";
    }
    return line;
}

// "API error 401" when `text` names an HTTP error status the way the CLIs print them
// ("API Error: 401", "status 500", "Error code: 429", "401 Unauthorized"); else empty.
std::string api_error_of(const std::string& text) {
    for (size_t i = 0; i + 3 <= text.size(); ++i) {
        const bool digits = std::isdigit(static_cast<unsigned char>(text[i])) != 0 &&
                            std::isdigit(static_cast<unsigned char>(text[i + 1])) != 0 &&
                            std::isdigit(static_cast<unsigned char>(text[i + 2])) != 0;
        const bool alone =
            (i == 0 || std::isdigit(static_cast<unsigned char>(text[i - 1])) == 0) &&
            (i + 3 == text.size() || std::isdigit(static_cast<unsigned char>(text[i + 3])) == 0);
        if (!digits || !alone || (text[i] != '4' && text[i] != '5')) {
            continue;
        }
        const std::string before = text.substr(i >= 12 ? i - 12 : 0, i >= 12 ? 12 : i);
        const std::string after = text.substr(i + 3, 14);
        std::string lower_before = before;
        std::transform(lower_before.begin(), lower_before.end(), lower_before.begin(), ::tolower);
        if (lower_before.find("error") != std::string::npos ||
            lower_before.find("status") != std::string::npos ||
            lower_before.find("code") != std::string::npos ||
            after.rfind(" Unauthorized", 0) == 0 || after.rfind(" Internal", 0) == 0 ||
            after.rfind(" Too Many", 0) == 0 || after.rfind(" Forbidden", 0) == 0) {
            return "API error " + text.substr(i, 3);
        }
    }
    return "";
}

std::string reason_from_message(const std::string& message) {
    std::string api = api_error_of(message);
    if (!api.empty()) {
        return api;
    }
    if (message.find("Not logged in") != std::string::npos) {
        return "not logged in";
    }
    return short_text(message);
}

// Whether `text` nests arrays and objects no deeper than `limit` (strings skipped): a line of a
// million '[' would otherwise be built into a million nested arrays, hundreds of MiB in the
// runner, before anything looked at it.
bool nesting_within(std::string_view text, int limit) {
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) {
                return false;
            }
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return true;
}

// Calls `visit` with each line of `log` that parses as a JSON object (nested at most
// k_max_json_depth deep; deeper lines are not the CLIs' and are skipped).
template <typename Visit>
void for_each_json_line(const std::string& log, Visit visit) {
    size_t start = 0;
    while (start < log.size()) {
        size_t end = log.find('\n', start);
        if (end == std::string::npos) {
            end = log.size();
        }
        const size_t brace = log.find_first_not_of(" \t\r", start);
        if (brace < end && log[brace] == '{' &&
            nesting_within(std::string_view(log).substr(brace, end - brace), k_max_json_depth)) {
            const json line = json::parse(log.begin() + static_cast<long>(brace),
                                          log.begin() + static_cast<long>(end), nullptr, false);
            if (line.is_object()) {
                visit(line);
            }
        }
        start = end + 1;
    }
}

// A count: a non-negative integer (a negative or fractional one is no count).
std::optional<uint64_t> number_at(const json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_number_integer() ||
        (!it->is_number_unsigned() && it->get<int64_t>() < 0)) {
        return std::nullopt;
    }
    return it->get<uint64_t>();
}

std::string string_at(const json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

AgentOutcome claude_outcome(const std::string& log, std::optional<int> exit_code) {
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
                outcome.reason = subtype;
            }
        }
    }
    return outcome;
}

AgentOutcome codex_outcome(const std::string& log) {
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

// Gemini CLI's documented exit codes (agent-clis.md §3).
std::string gemini_exit_reason(int code) {
    switch (code) {
    case 41:
        return "auth error";
    case 42:
        return "input error";
    case 44:
        return "sandbox error";
    case 52:
        return "config error";
    case 53:
        return "turn limit";
    case 54:
        return "tool execution error";
    case 55:
        return "untrusted workspace";
    case 130:
        return "cancelled";
    default:
        // In json modes an API error exits with the HTTP status modulo 256 (401 -> 145).
        if (code >= 400 - 256 && code <= 599 - 256) {
            return "API error " + std::to_string(code + 256);
        }
        return "";
    }
}

AgentOutcome gemini_outcome(const std::string& log, std::optional<int> exit_code) {
    AgentOutcome outcome;
    for_each_json_line(log, [&](const json& line) {
        if (string_at(line, "type") != "result") {
            return;
        }
        if (const auto stats = line.find("stats"); stats != line.end() && stats->is_object()) {
            outcome.usage.input_tokens = number_at(*stats, "input_tokens");
            outcome.usage.output_tokens = number_at(*stats, "output_tokens");
        }
        if (string_at(line, "status") == "error") {
            outcome.failed = true;
            if (const auto error = line.find("error"); error != line.end() && error->is_object()) {
                outcome.reason = reason_from_message(string_at(*error, "message"));
            }
        }
    });
    if (exit_code && *exit_code != 0) {
        const std::string reason = gemini_exit_reason(*exit_code);
        if (!reason.empty()) {
            outcome.reason = reason;
        }
    }
    return outcome;
}

AgentOutcome grok_outcome(const std::string& log) {
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

AgentOutcome aider_outcome(const std::string& log) {
    AgentOutcome outcome;
    size_t start = 0;
    while (start < log.size()) {
        size_t end = log.find('\n', start);
        if (end == std::string::npos) {
            end = log.size();
        }
        const std::string line = log.substr(start, end - start);
        // LiteLLM's exceptions, as Aider prints them: "litellm.AuthenticationError: …".
        if (line.rfind("litellm.", 0) == 0 && line.find("Error") != std::string::npos) {
            outcome.failed = true;
            const std::string api = api_error_of(line);
            outcome.reason = !api.empty() ? api : short_text(line.substr(8));
        }
        start = end + 1;
    }
    return outcome;
}

} // namespace

const Adapter* builtin_adapter(const std::string& name) {
    for (const Adapter& adapter : adapters()) {
        if (adapter.name == name) {
            return &adapter;
        }
    }
    return nullptr;
}

const std::vector<std::string>& builtin_agent_names() {
    static const std::vector<std::string> names = {"claude", "aider", "codex", "gemini", "grok"};
    return names;
}

AdapterCommand adapter_command(const Adapter& adapter, const std::string& model,
                               const std::string& base_url, const std::vector<std::string>& args,
                               const std::string& prompt, const std::string& prompt_file) {
    AdapterCommand command;
    command.args = adapter.args;
    command.env = adapter.env;
    if (!model.empty()) {
        command.args.insert(command.args.end(), {"--model", model});
    }
    if (!base_url.empty()) {
        if (adapter.name == "claude") {
            command.env["ANTHROPIC_BASE_URL"] = base_url;
        } else if (adapter.name == "codex") {
            command.args.insert(command.args.end(),
                                {"-c", "model_provider=\"fleet\"", "-c",
                                 "model_providers.fleet={ name = \"fleet\", base_url = " +
                                     toml_quote(base_url) +
                                     ", env_key = \"CODEX_API_KEY\", wire_api = \"responses\", "
                                     "supports_websockets = false }"});
        } else if (adapter.name == "gemini") {
            command.env["GOOGLE_GEMINI_BASE_URL"] = base_url;
        } else if (adapter.name == "grok") {
            command.env["GROK_BASE_URL"] = base_url;
        } else if (adapter.name == "aider") {
            command.args.insert(command.args.end(), {"--openai-api-base", base_url});
        }
    }
    command.args.insert(command.args.end(), args.begin(), args.end());
    switch (adapter.prompt) {
    case PromptInput::stdin_file:
        command.stdin_prompt = true;
        if (adapter.name == "codex") {
            command.args.emplace_back("-"); // read the prompt from stdin, nothing else
        }
        break;
    case PromptInput::argv:
        command.args.insert(command.args.end(), {"-p", prompt});
        break;
    case PromptInput::file_argument:
        command.args.insert(command.args.end(), {"--message-file", prompt_file});
        break;
    }
    return command;
}

AgentOutcome read_outcome(const std::string& agent, const std::string& log,
                          std::optional<int> exit_code) {
    if (agent == "claude") {
        return claude_outcome(log, exit_code);
    }
    if (agent == "codex") {
        return codex_outcome(log);
    }
    if (agent == "gemini") {
        return gemini_outcome(log, exit_code);
    }
    if (agent == "grok") {
        return grok_outcome(log);
    }
    if (agent == "aider") {
        return aider_outcome(log);
    }
    return {};
}

} // namespace fleet
