#include "dispatch/agents/agent_cli.hpp"

namespace fleet {

const std::vector<AgentCli>& agent_clis() {
    static const std::vector<AgentCli> table = {claude_cli(), aider_cli(), codex_cli(),
                                                gemini_cli(), grok_cli()};
    return table;
}

const AgentCli* find_agent_cli(std::string_view name) {
    for (const AgentCli& cli : agent_clis()) {
        if (cli.name == name) {
            return &cli;
        }
    }
    return nullptr;
}

AgentCommand agent_command(const AgentCli& cli, const std::string& model,
                           const std::string& base_url, const std::vector<std::string>& args,
                           const std::string& prompt, const std::string& prompt_file) {
    AgentCommand command;
    command.args = cli.headless_args;
    command.env = cli.env;
    if (!model.empty()) {
        command.args.insert(command.args.end(), {"--model", model});
    }
    if (!base_url.empty() && cli.base_url != nullptr) {
        cli.base_url(base_url, command);
    }
    command.args.insert(command.args.end(), args.begin(), args.end());
    switch (cli.prompt) {
    case PromptInput::stdin_file:
        command.stdin_prompt = true;
        break;
    case PromptInput::argv:
        command.args.insert(command.args.end(), {"-p", prompt});
        break;
    case PromptInput::file_argument:
        command.args.insert(command.args.end(), {"--message-file", prompt_file});
        break;
    }
    command.args.insert(command.args.end(), cli.final_args.begin(), cli.final_args.end());
    return command;
}

} // namespace fleet
