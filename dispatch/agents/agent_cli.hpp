// One record per agent CLI: everything dispatch knows about driving one of the five built-in
// CLIs headless (docs/design/agent-clis.md has the facts behind every entry: §1 claude, §2 codex,
// §3 gemini, §4 grok, §5 aider) sits in its entry, one file each (claude.cpp, codex.cpp,
// gemini.cpp, grok.cpp, aider.cpp); the rest of dispatch iterates agent_clis() instead of
// testing names: the config's built-ins, the old script names dispatch answers to, doctor's
// ownership check of their state in the user's home, the preparation of that home, the docs'
// table (checked by a test).
//
//   claude  claude -p --dangerously-skip-permissions --output-format stream-json --verbose
//           prompt on stdin. stream-json needs --verbose in print mode. Claude refuses bypass
//           mode as root; dispatch never runs it as root (the whole process dropped first).
//   codex   codex exec --json --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox -
//           prompt on stdin ("-"), so it never waits for or appends other input.
//   gemini  gemini --yolo --output-format stream-json; prompt on stdin.
//   grok    grok -p PROMPT: the one CLI without stdin or file input, so the prompt is argv.
//   aider   aider --message-file PROMPT_FILE --yes-always --no-auto-commits ...
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/agent_outcome.hpp"

namespace fleet {

enum class PromptInput {
    stdin_file,    // the prompt file on stdin
    argv,          // -p PROMPT
    file_argument, // --message-file PROMPT_FILE
};

// What a built-in agent is started with: after its binary.
struct AgentCommand {
    std::vector<std::string> args;
    bool stdin_prompt = false;
    std::map<std::string, std::string> env;
};

struct AgentCli {
    std::string name;                       // the config key and the default binary name
    std::vector<std::string> headless_args; // before the model and the user's args
    PromptInput prompt = PromptInput::stdin_file;
    std::vector<std::string> final_args;    // after everything (codex: "-", the prompt on stdin)
    std::map<std::string, std::string> env; // always set
    // How a configured base URL reaches the CLI (an environment variable, an option).
    void (*base_url)(const std::string& url, AgentCommand& command) = nullptr;
    // The outcome from the last 1 MiB of its log and its exit code (unset when a signal ended
    // it). Must not throw on anything the agent printed (tests/fuzz/outcome_fuzz.cpp).
    AgentOutcome (*read_outcome)(const std::string& log, std::optional<int> exit_code) = nullptr;
    // What it keeps in the user's home, relative to it; a trailing '*' matches a prefix
    // (".aider*"). doctor checks these belong to the user.
    std::vector<std::string> home_state;
    // Prepares the user's home before a run, as the user; "" or a warning to log.
    std::string (*prepare_home)(const std::string& home, const std::string& base_url) = nullptr;
    // The old script that ran this agent alone ("dispatch-aider.sh"); dispatch answers to that
    // name (and to it without .sh). Empty: none.
    std::string legacy_script;
};

// The five, in a fixed order (claude, aider, codex, gemini, grok).
const std::vector<AgentCli>& agent_clis();

// The entry for `name`; nullptr for any other name.
const AgentCli* find_agent_cli(std::string_view name);

// Headless argv and environment for `cli`, with `model`, `base_url` and the user's extra
// `args` (appended). `prompt` and `prompt_file` are the prompt and its path in the run dir.
AgentCommand agent_command(const AgentCli& cli, const std::string& model,
                           const std::string& base_url, const std::vector<std::string>& args,
                           const std::string& prompt, const std::string& prompt_file);

// Each CLI's own entry (its file).
const AgentCli& claude_cli();
const AgentCli& codex_cli();
const AgentCli& gemini_cli();
const AgentCli& grok_cli();
const AgentCli& aider_cli();

} // namespace fleet
