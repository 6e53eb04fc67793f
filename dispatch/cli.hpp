// The dispatch command line (docs/dispatch.md):
//   dispatch [-c CONFIG] [-a AGENT[,AGENT...]] [-u USER] [--timeout DUR] [--prompt-file PATH|-]
//            [--json] TASK [PROMPT...]
//   dispatch [-c CONFIG] list [--json] [--limit N]
//   dispatch [-c CONFIG] status RUN_ID [--json]
//   dispatch [-c CONFIG] logs RUN_ID [--agent NAME] [-f] [--tail N] [--raw]
//   dispatch [-c CONFIG] agents | config
//   dispatch [-c CONFIG] wait RUN_ID [--timeout DUR]
//   dispatch [-c CONFIG] cancel RUN_ID [--agent NAME]
//   dispatch [-c CONFIG] prune [--older-than DUR] [--keep N] [--dry-run]
//   dispatch [-c CONFIG] doctor [--fix]
// Runs also take --detach and --label KEY=VALUE (repeatable); list takes --label and --state.
// Options may stand anywhere; after "--" every word is a prompt word, even one starting with
// '-'. Prompt words are joined with single spaces.
//
// The name it is started under (argv[0], with or without ".sh") sets defaults, so the old
// scripts' SSM commands work unchanged: dispatch-unified runs the unified agent set;
// dispatch-claude, -aider, -codex, -gemini, -grok run that agent; dispatch runs default_agent.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/duration.hpp"
#include "sys/result.hpp"

namespace fleet {

enum class Subcommand {
    run,
    list,
    status,
    logs,
    wait,
    cancel,
    prune,
    doctor,
    agents,
    config,
    help,
    version
};

struct CommandLine {
    Subcommand subcommand = Subcommand::run;
    std::string config_path;         // -c
    std::string user;                // -u
    std::vector<std::string> agents; // -a, split on commas
    std::optional<Duration> timeout; // --timeout (run: the run's; wait: the wait's)
    bool detach = false;
    std::vector<std::pair<std::string, std::string>> labels; // run: set; list: must match
    std::string state;                                       // list: only runs in this state
    std::optional<Duration> older_than;                      // prune
    std::optional<size_t> keep;                              // prune
    bool dry_run = false;                                    // prune
    bool follow = false;                                     // logs -f
    std::optional<size_t> tail;                              // logs --tail N
    bool raw = false;                                        // logs --raw
    std::string console;     // run: full, summary or none ("" = by context)
    bool fix = false;        // doctor --fix
    std::string prompt_file; // --prompt-file ("-" for stdin)
    bool json = false;
    size_t limit = 50; // list; 0 = all
    std::string agent; // logs --agent
    std::string task;
    std::vector<std::string> prompt_words;
    std::string run_id;      // status, logs
    bool unified = false;    // started as dispatch-unified
    std::string alias_agent; // started as dispatch-<agent>
};

// What the program name (a path or a plain name) implies: sets `unified` or `alias_agent`.
void apply_program_name(const std::string& argv0, CommandLine& line);

// Parses argv (argv[0] excluded is not required: pass argc/argv as main got them).
// invalid_input errors are usage errors (exit 2).
Result<CommandLine> parse_command_line(int argc, const char* const* argv);

// The --help text.
std::string usage_text();

} // namespace fleet
