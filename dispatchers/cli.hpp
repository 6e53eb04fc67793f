// The dispatch command line (docs/dispatch.md):
//   dispatch [-c CONFIG] [-a AGENT[,AGENT...]] [-u USER] [--timeout DUR] [--prompt-file PATH|-]
//            [--json] TASK [PROMPT...]
//   dispatch [-c CONFIG] list [--json] [--limit N]
//   dispatch [-c CONFIG] status RUN_ID [--json]
//   dispatch [-c CONFIG] logs RUN_ID [--agent NAME]
// Options may stand anywhere; after "--" every word is a prompt word, even one starting with
// '-'. Prompt words are joined with single spaces.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "duration.hpp"
#include "result.hpp"

namespace fleet {

enum class Subcommand { run, list, status, logs, help, version };

struct CommandLine {
    Subcommand subcommand = Subcommand::run;
    std::string config_path;         // -c
    std::string user;                // -u
    std::vector<std::string> agents; // -a, split on commas
    std::optional<Duration> timeout; // --timeout
    std::string prompt_file;         // --prompt-file ("-" for stdin)
    bool json = false;
    size_t limit = 50; // list; 0 = all
    std::string agent; // logs --agent
    std::string task;
    std::vector<std::string> prompt_words;
    std::string run_id; // status, logs
};

// Parses argv (argv[0] excluded is not required: pass argc/argv as main got them).
// invalid_input errors are usage errors (exit 2).
Result<CommandLine> parse_command_line(int argc, const char* const* argv);

// The --help text.
std::string usage_text();

} // namespace fleet
