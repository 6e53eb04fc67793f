// The dispatch command line (docs/dispatch.md), from two tables in cli.cpp: the options (name,
// short name, value, help) and the subcommands (name, operands, the options each takes, the
// reader that turns them into its arguments). The option parser, the "does not apply"
// checks, the usage text, the synopsis in docs/dispatch.md (checked by a test) and the words
// a task cannot be named come from them.
//
// Options may stand anywhere; after "--" every word is an operand, even one starting with '-'.
// A first word that is no subcommand is the TASK of a run; prompt words are joined with single
// spaces.
//
// The name it is started under (argv[0], with or without ".sh") sets defaults, so the old
// scripts' SSM commands work unchanged: dispatch-unified runs the unified agent set;
// dispatch-claude, -aider, -codex, -gemini, -grok run that agent; dispatch runs default_agent.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/duration.hpp"
#include "sys/result.hpp"

namespace fleet {

enum class Subcommand {
    run,
    list,
    status,
    logs,
    diff,
    wait,
    cancel,
    prune,
    doctor,
    report,
    agents,
    config,
    help,
    version
};

using Labels = std::vector<std::pair<std::string, std::string>>;

// dispatch [options] TASK [PROMPT...]
struct RunArgs {
    std::string task;
    std::vector<std::string> prompt_words;
    std::string prompt_file;         // --prompt-file ("-" for stdin)
    std::vector<std::string> agents; // -a, split on commas
    std::optional<Duration> timeout; // the run's
    bool detach = false;
    Labels labels;
    std::string console; // full, summary or none ("" = by context)
    bool json = false;
    bool unified = false;    // started as dispatch-unified
    std::string alias_agent; // started as dispatch-<agent>
    std::string repo;        // --repo PATH[@REF], as given (run.cpp splits it)
};

struct ListArgs {
    bool json = false;
    size_t limit = 50; // 0 = all
    Labels labels;     // only runs with all of them
    std::string state; // only runs in this state
};

struct StatusArgs {
    std::string run_id;
    bool json = false;
};

struct LogsArgs {
    std::string run_id;
    std::string agent;
    bool follow = false;
    std::optional<size_t> tail;
    bool raw = false;
};

struct DiffArgs {
    std::string run_id;
    std::string agent; // "" = every agent that changed something
    bool stat = false;
    bool raw = false;
};

struct WaitArgs {
    std::string run_id;
    std::optional<Duration> timeout; // the wait's
};

struct CancelArgs {
    std::string run_id;
    std::string agent; // "" = the whole run
};

// Neither older_than nor keep: the config's prune_older_than, or nothing (operate.hpp).
struct PruneArgs {
    std::optional<Duration> older_than;
    std::optional<size_t> keep;
    bool dry_run = false;
};

struct DoctorArgs {
    bool fix = false;
    bool json = false; // read-only: never with fix
};

// report [--from DIR]... [--since DUR] [--label KEY=VALUE]... [--json] [-o FILE]
struct ReportArgs {
    std::vector<std::string> from; // none: this host's runs
    std::optional<Duration> since;
    Labels labels;
    bool json = false;
    std::string output; // "" = stdout
};

// agents, config, help, version
struct NoArgs {};

using SubcommandArgs = std::variant<RunArgs, ListArgs, StatusArgs, LogsArgs, DiffArgs, WaitArgs,
                                    CancelArgs, PruneArgs, DoctorArgs, ReportArgs, NoArgs>;

struct CommandLine {
    Subcommand subcommand = Subcommand::run;
    std::string config_path; // -c
    std::string user;        // -u (run, doctor): the target user
    SubcommandArgs args;
};

// Parses argv as main got it (argv[0] is the program name). invalid_input errors are usage
// errors (exit 2).
Result<CommandLine> parse_command_line(int argc, const char* const* argv);

// The --help text: the synopsis, every option, the program names, the exit codes.
std::string usage_text();

// One line per subcommand, as docs/dispatch.md's Usage shows them.
std::string synopsis();

// The subcommands' names: no task may be called so.
bool is_reserved_word(std::string_view word);

} // namespace fleet
