// Built-in adapters: how each agent CLI is driven headless, and how its outcome is read from
// what it printed (../shared/docs/agent-clis.md has the facts behind every line here).
//
//   claude  claude -p --dangerously-skip-permissions --output-format stream-json --verbose
//           prompt on stdin. stream-json needs --verbose in print mode. Claude refuses bypass
//           mode as root; dispatch never runs it as root (the whole process dropped first).
//           Outcome: the last {"type":"result"} record's is_error (never its subtype); no
//           result record is a failure; usage from usage, total_cost_usd, num_turns.
//   codex   codex exec --json --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox -
//           prompt on stdin ("-"), so it never waits for or appends other input. A base URL
//           becomes a provider entry (-c model_provider=fleet, -c model_providers.fleet=…,
//           supports_websockets=false): its environment variable was removed upstream.
//           Outcome: turn.failed / error events; usage from turn.completed.
//   gemini  gemini --yolo --output-format stream-json; prompt on stdin.
//           GEMINI_CLI_TRUST_WORKSPACE=true (else --yolo is ignored and it exits 55),
//           GEMINI_CLI_NO_RELAUNCH=true (its relaunched child survives a parent kill). With a
//           base URL, ~/.gemini/settings.json must select the gemini-api-key auth type (else
//           exit 41): created when absent. Outcome: its exit-code table, HTTP status mod 256
//           in json modes, the result record; usage from the result's stats.
//   grok    grok -p PROMPT: the one CLI without stdin or file input, so the prompt is argv.
//           Keys and base URL only by environment (-k/-u are persisted to disk by grok).
//           Outcome: an assistant message starting "Error:". It exits 0 on SIGTERM: the
//           runner's own timed_out/cancelled state wins (supervisor.hpp).
//   aider   aider --message-file PROMPT_FILE --yes-always --no-auto-commits … ; exits 0 even
//           when every model call failed (Aider-AI/aider#5552), so litellm error lines in its
//           output make it failed.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/agent_outcome.hpp"

namespace fleet {

enum class PromptInput { stdin_file, argv, file_argument };

struct Adapter {
    std::string name;              // also the default binary name
    std::vector<std::string> args; // headless flags, before model and user args
    PromptInput prompt = PromptInput::stdin_file;
    std::map<std::string, std::string> env; // always set
};

// The five built-ins, by name; nullptr for any other name.
const Adapter* builtin_adapter(const std::string& name);

// Names of the built-in adapters in a fixed order.
const std::vector<std::string>& builtin_agent_names();

// What an adapter-driven agent is started with.
struct AdapterCommand {
    std::vector<std::string> args; // after the binary
    bool stdin_prompt = false;
    std::map<std::string, std::string> env;
};

// Headless argv and environment for `adapter`, with `model`, `base_url` and the user's extra
// `args` (appended). `prompt` and `prompt_file` are the prompt and its path in the run dir.
AdapterCommand adapter_command(const Adapter& adapter, const std::string& model,
                               const std::string& base_url, const std::vector<std::string>& args,
                               const std::string& prompt, const std::string& prompt_file);

// Reads the outcome from an agent's log text and its exit status (`exit_code` unset when a
// signal ended it).
AgentOutcome read_outcome(const std::string& agent, const std::string& log,
                          std::optional<int> exit_code);

} // namespace fleet
