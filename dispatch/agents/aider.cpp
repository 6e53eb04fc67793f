#include "dispatch/agents/agent_cli.hpp"
#include "dispatch/agents/outcome_text.hpp"

namespace fleet {

namespace {

using nlohmann::json;

AgentOutcome read_aider(const std::string& log, std::optional<int> /*exit_code*/) {
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

// Aider (docs/design/agent-clis.md §5): --message-file with the prompt file; it exits 0 even
// when every model call failed (Aider-AI/aider#5552), so litellm error lines in its output make
// it failed.
const AgentCli& aider_cli() {
    static const AgentCli cli{
        "aider",
        {"--yes-always", "--no-auto-commits", "--no-check-update", "--analytics-disable",
         "--no-show-model-warnings", "--no-pretty", "--no-fancy-input"},
        PromptInput::file_argument,
        {},
        {{"LITELLM_LOCAL_MODEL_COST_MAP", "True"}},
        [](const std::string& url, AgentCommand& command) {
            command.args.insert(command.args.end(), {"--openai-api-base", url});
        },
        read_aider,
        {".aider*"},
        nullptr,
        "dispatch-aider.sh",
    };
    return cli;
}

} // namespace fleet
