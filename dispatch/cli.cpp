#include "dispatch/cli.hpp"

#include <algorithm>
#include <cstring>
// A repeated option's every value is one item: cxxopts would split each on commas (a --label
// value or a --from path may hold one). No argv string holds a NUL.
#define CXXOPTS_VECTOR_DELIMITER '\0'
#include <cxxopts.hpp>
#include <filesystem>
#include <map>
#include <span>
#include <variant>

#include "dispatch/agents/agent_cli.hpp"
#include "dispatch/cli_values.hpp"

namespace fleet {

namespace {

// How an option's value is read: every given value is checked once, by its kind, before any
// subcommand sees it.
enum class Kind {
    flag,     // no value
    text,     // any string
    count,    // a decimal number, up to 7 digits
    duration, // 90s, 30m, 1h30m (duration.hpp)
    labels,   // KEY=VALUE, repeatable
    paths,    // any string, repeatable
    agents,   // a,b,c: no empty item, no agent twice
};

struct OptionSpec {
    const char* name;
    const char* short_name; // "" when there is none
    Kind kind;
    const char* value_name; // in the usage text
    const char* help;
};

// Every option. -c, -h and --version stand with any subcommand; the others only with those that
// name them in subcommands().
constexpr OptionSpec k_options[] = {
    {"config", "c", Kind::text, "CONFIG", "config file"},
    {"agents", "a", Kind::agents, "AGENT[,AGENT...]", "agents to run, each once"},
    {"user", "u", Kind::text, "USER", "target user when started as root"},
    {"timeout", "", Kind::duration, "DUR", "run: the whole run's; wait: how long to wait"},
    {"prompt-file", "", Kind::text, "PATH|-", "read the prompt from PATH, or - for stdin"},
    {"json", "", Kind::flag, "", "machine-readable output"},
    {"detach", "", Kind::flag, "", "run in the background; print the run id"},
    {"label", "", Kind::labels, "KEY=VALUE", "run: record it; list, report: runs with it"},
    {"console", "", Kind::text, "full|summary|none", "run: what the console shows"},
    {"repo", "", Kind::text, "PATH[@REF]", "run: a clone of PATH for each agent"},
    {"limit", "", Kind::count, "N", "list: at most N runs (0: all)"},
    {"state", "", Kind::text, "STATE", "list: only runs in this state"},
    {"agent", "", Kind::text, "NAME", "logs, diff, cancel: the one agent"},
    {"follow", "f", Kind::flag, "", "logs: follow the logs until the run ends"},
    {"tail", "", Kind::count, "N", "logs: only each log's last N lines"},
    {"raw", "", Kind::flag, "", "logs, diff: the agents' bytes, never escaped"},
    {"stat", "", Kind::flag, "", "diff: the counts and diffstat, not the patch"},
    {"older-than", "", Kind::duration, "DUR", "prune: runs started longer ago than DUR"},
    {"keep", "", Kind::count, "N", "prune: keep the newest N finished runs"},
    {"dry-run", "", Kind::flag, "", "prune: only say what would be removed"},
    {"fix", "", Kind::flag, "", "doctor: repair what can be repaired"},
    {"from", "", Kind::paths, "DIR", "report: runs fetched from hosts into DIR"},
    {"since", "", Kind::duration, "DUR", "report: only runs started within DUR"},
    {"output", "o", Kind::text, "FILE", "report: write FILE (atomically), not stdout"},
    {"help", "h", Kind::flag, "", "show this help"},
    {"version", "", Kind::flag, "", "show the version"},
};
constexpr const char* k_global_options[] = {"config", "help", "version"};

const OptionSpec& option(std::string_view name) {
    return *std::find_if(std::begin(k_options), std::end(k_options),
                         [&](const OptionSpec& spec) { return name == spec.name; });
}

using OptionValue =
    std::variant<bool, std::string, size_t, Duration, Labels, std::vector<std::string>>;

template <typename T>
Result<OptionValue> widen(Result<T> value) {
    if (!value) {
        return value.error();
    }
    return OptionValue(std::move(*value));
}

// One given option's value, checked by its kind.
Result<OptionValue> read_value(const OptionSpec& spec, const cxxopts::OptionValue& given) {
    switch (spec.kind) {
    case Kind::flag:
        return OptionValue(true);
    case Kind::count:
        return widen(parse_count(spec.name, given.as<std::string>()));
    case Kind::duration: {
        Result<Duration> duration = parse_duration(given.as<std::string>());
        if (!duration) {
            return Error{ErrorKind::invalid_input,
                         std::string("--") + spec.name + ": " + duration.error().message};
        }
        return OptionValue(*duration);
    }
    case Kind::labels:
        return widen(parse_labels(given.as<std::vector<std::string>>()));
    case Kind::agents:
        return widen(parse_agents(given.as<std::string>()));
    case Kind::paths:
        return OptionValue(given.as<std::vector<std::string>>());
    case Kind::text:
        break;
    }
    return OptionValue(given.as<std::string>());
}

// The value of every option given.
class Values {
public:
    static Result<Values> read(const cxxopts::ParseResult& parsed) {
        Values values;
        for (const OptionSpec& spec : k_options) {
            if (parsed.count(spec.name) == 0) {
                continue;
            }
            Result<OptionValue> value = read_value(spec, parsed[spec.name]);
            if (!value) {
                return value.error();
            }
            values.m_values.emplace(spec.name, std::move(*value));
        }
        return values;
    }

    bool has(std::string_view name) const { return m_values.contains(name); }
    std::string text(std::string_view name) const { return get<std::string>(name).value_or(""); }
    std::optional<size_t> count(std::string_view name) const { return get<size_t>(name); }
    std::optional<Duration> duration(std::string_view name) const { return get<Duration>(name); }
    Labels labels() const { return get<Labels>("label").value_or(Labels{}); }
    std::vector<std::string> agents() const { return texts("agents"); }
    std::vector<std::string> texts(std::string_view name) const {
        return get<std::vector<std::string>>(name).value_or(std::vector<std::string>{});
    }

private:
    template <typename T>
    std::optional<T> get(std::string_view name) const {
        const auto found = m_values.find(name);
        return found == m_values.end() ? std::nullopt
                                       : std::optional<T>(std::get<T>(found->second));
    }

    std::map<std::string, OptionValue, std::less<>> m_values;
};

// What follows a subcommand's name.
enum class Operands { none, run_id, prompt };

// `words` starts with the subcommand's name (the TASK for a run); the operands are checked.
using Reader = Result<SubcommandArgs> (*)(const Values&, const std::vector<std::string>& words);

struct SubcommandSpec {
    const char* name; // "TASK": a run
    Subcommand subcommand;
    Operands operands;
    std::vector<const char*> options;
    Reader read;
};

Result<SubcommandArgs> read_run(const Values& values, const std::vector<std::string>& words) {
    RunArgs args;
    args.task = words[0];
    args.prompt_words.assign(words.begin() + 1, words.end());
    args.agents = values.agents();
    args.timeout = values.duration("timeout");
    args.labels = values.labels();
    args.detach = values.has("detach");
    args.json = values.has("json");
    args.console = values.text("console");
    if (values.has("console") && args.console != "full" && args.console != "summary" &&
        args.console != "none") {
        return input_error("--console '" + args.console + "': use full, summary or none");
    }
    args.prompt_file = values.text("prompt-file");
    if (values.has("prompt-file") && args.prompt_file.empty()) {
        return input_error("--prompt-file needs a path or -");
    }
    if (!args.prompt_file.empty() && !args.prompt_words.empty()) {
        return input_error("give the prompt as words or with --prompt-file, not both");
    }
    args.repo = values.text("repo");
    if (values.has("repo") && (args.repo.empty() || args.repo.front() == '@')) {
        return input_error("--repo needs a path: PATH or PATH@REF");
    }
    return SubcommandArgs(std::move(args));
}

Result<SubcommandArgs> read_list(const Values& values, const std::vector<std::string>&) {
    return SubcommandArgs(ListArgs{values.has("json"), values.count("limit").value_or(50),
                                   values.labels(), values.text("state")});
}

Result<SubcommandArgs> read_status(const Values& values, const std::vector<std::string>& words) {
    return SubcommandArgs(StatusArgs{words[1], values.has("json")});
}

Result<SubcommandArgs> read_logs(const Values& values, const std::vector<std::string>& words) {
    return SubcommandArgs(LogsArgs{words[1], values.text("agent"), values.has("follow"),
                                   values.count("tail"), values.has("raw")});
}

Result<SubcommandArgs> read_diff(const Values& values, const std::vector<std::string>& words) {
    return SubcommandArgs(
        DiffArgs{words[1], values.text("agent"), values.has("stat"), values.has("raw")});
}

Result<SubcommandArgs> read_wait(const Values& values, const std::vector<std::string>& words) {
    return SubcommandArgs(WaitArgs{words[1], values.duration("timeout")});
}

Result<SubcommandArgs> read_cancel(const Values& values, const std::vector<std::string>& words) {
    return SubcommandArgs(CancelArgs{words[1], values.text("agent")});
}

Result<SubcommandArgs> read_prune(const Values& values, const std::vector<std::string>&) {
    // Neither --older-than nor --keep: the config's prune_older_than (the prune timer's case).
    return SubcommandArgs(
        PruneArgs{values.duration("older-than"), values.count("keep"), values.has("dry-run")});
}

Result<SubcommandArgs> read_doctor(const Values& values, const std::vector<std::string>&) {
    if (values.has("json") && values.has("fix")) {
        return input_error("doctor --json is read-only: not with --fix"); // the guardian's
    }
    return SubcommandArgs(DoctorArgs{values.has("fix"), values.has("json")});
}

// A path made absolute against the caller's directory: report reads and writes after the drop
// to the target, in the target's home (session.hpp).
Status make_absolute(std::string& path) {
    std::error_code error;
    const std::filesystem::path absolute = std::filesystem::absolute(path, error);
    if (error) {
        return input_error(path + ": " + error.message());
    }
    path = absolute.string();
    return Ok{};
}

Result<SubcommandArgs> read_report(const Values& values, const std::vector<std::string>&) {
    ReportArgs args{values.texts("from"), values.duration("since"), values.labels(),
                    values.has("json"), values.text("output")};
    if ((values.has("from") && args.from.empty()) ||
        std::any_of(args.from.begin(), args.from.end(),
                    [](const std::string& dir) { return dir.empty(); }) ||
        (values.has("output") && args.output.empty())) {
        return input_error("--from and --output need a path");
    }
    for (std::string& dir : args.from) {
        if (Status made = make_absolute(dir); !made) {
            return made.error();
        }
    }
    if (!args.output.empty()) {
        if (Status made = make_absolute(args.output); !made) {
            return made.error();
        }
    }
    return SubcommandArgs(std::move(args));
}

Result<SubcommandArgs> read_nothing(const Values&, const std::vector<std::string>&) {
    return SubcommandArgs(NoArgs{});
}

// Every subcommand, in the order the usage text shows them; the run comes first.
const std::vector<SubcommandSpec>& subcommands() {
    static const std::vector<SubcommandSpec> k_subcommands = {
        {"TASK",
         Subcommand::run,
         Operands::prompt,
         {"agents", "user", "timeout", "prompt-file", "json", "detach", "label", "console", "repo"},
         read_run},
        {"list", Subcommand::list, Operands::none, {"json", "limit", "label", "state"}, read_list},
        {"status", Subcommand::status, Operands::run_id, {"json"}, read_status},
        {"logs", Subcommand::logs, Operands::run_id, {"agent", "follow", "tail", "raw"}, read_logs},
        {"diff", Subcommand::diff, Operands::run_id, {"agent", "stat", "raw"}, read_diff},
        {"wait", Subcommand::wait, Operands::run_id, {"timeout"}, read_wait},
        {"cancel", Subcommand::cancel, Operands::run_id, {"agent"}, read_cancel},
        {"prune", Subcommand::prune, Operands::none, {"older-than", "keep", "dry-run"}, read_prune},
        {"doctor", Subcommand::doctor, Operands::none, {"user", "json", "fix"}, read_doctor},
        {"report",
         Subcommand::report,
         Operands::none,
         {"from", "since", "label", "json", "output"},
         read_report},
        {"agents", Subcommand::agents, Operands::none, {}, read_nothing},
        {"config", Subcommand::config, Operands::none, {}, read_nothing},
        {"help", Subcommand::help, Operands::none, {}, read_nothing},
        {"version", Subcommand::version, Operands::none, {}, read_nothing},
    };
    return k_subcommands;
}

const SubcommandSpec& spec_for(const std::string& word) {
    const auto& all = subcommands();
    const auto found = std::find_if(all.begin() + 1, all.end(),
                                    [&](const SubcommandSpec& spec) { return word == spec.name; });
    return found == all.end() ? all.front() : *found;
}

bool takes(std::span<const char* const> names, const char* name) {
    return std::any_of(names.begin(), names.end(),
                       [&](const char* taken) { return std::string_view(taken) == name; });
}

cxxopts::Options make_parser() {
    cxxopts::Options parser("dispatch");
    for (const OptionSpec& spec : k_options) {
        const std::string names = *spec.short_name != '\0'
                                      ? std::string(spec.short_name) + "," + spec.name
                                      : std::string(spec.name);
        if (spec.kind == Kind::flag) {
            parser.add_options()(names, spec.help);
        } else if (spec.kind == Kind::labels || spec.kind == Kind::paths) {
            parser.add_options()(names, spec.help, cxxopts::value<std::vector<std::string>>());
        } else {
            parser.add_options()(names, spec.help, cxxopts::value<std::string>());
        }
    }
    parser.add_options()("words", "", cxxopts::value<std::vector<std::string>>());
    parser.parse_positional({"words"});
    return parser;
}

// Each option a subcommand does not take, given, is a usage error.
Status only_for(const cxxopts::ParseResult& parsed, const SubcommandSpec& spec) {
    for (const OptionSpec& candidate : k_options) {
        if (parsed.count(candidate.name) != 0 && !takes(k_global_options, candidate.name) &&
            !takes(spec.options, candidate.name)) {
            return input_error(std::string("--") + candidate.name + " does not apply to '" +
                               spec.name + "'");
        }
    }
    return Ok{};
}

Status check_operands(const SubcommandSpec& spec, const std::vector<std::string>& words) {
    if (spec.operands == Operands::none && words.size() > 1) {
        return input_error(std::string(spec.name) + " takes no operands");
    }
    if (spec.operands == Operands::run_id && words.size() != 2) {
        return input_error(std::string(spec.name) + " takes exactly one RUN_ID");
    }
    return Ok{};
}

// What the program name implies: the unified set, or one agent.
void apply_program_name(const std::string& argv0, RunArgs& args) {
    std::string name = argv0.substr(argv0.rfind('/') + 1);
    if (name.size() > 3 && name.compare(name.size() - 3, 3, ".sh") == 0) {
        name.resize(name.size() - 3);
    }
    args.unified = name == "dispatch-unified";
    for (const AgentCli& cli : agent_clis()) {
        if (name == "dispatch-" + cli.name) {
            args.alias_agent = cli.name;
        }
    }
}

constexpr size_t k_usage_width = 80;

std::string option_usage(const OptionSpec& spec) {
    std::string text = *spec.short_name != '\0' ? std::string("-") + spec.short_name
                                                : std::string("--") + spec.name;
    if (spec.kind != Kind::flag) {
        text += std::string(" ") + spec.value_name;
    }
    const bool repeats = spec.kind == Kind::labels || spec.kind == Kind::paths;
    return "[" + text + "]" + (repeats ? "..." : "");
}

// "dispatch [-c CONFIG] NAME OPERANDS [OPTION]...", wrapped to k_usage_width columns.
std::string synopsis_of(const SubcommandSpec& spec, const std::string& indent) {
    const bool plain =
        spec.subcommand == Subcommand::help || spec.subcommand == Subcommand::version;
    std::vector<std::string> words = {"dispatch"};
    if (!plain) {
        words.emplace_back("[-c CONFIG]");
    }
    if (spec.subcommand != Subcommand::run) {
        words.emplace_back(spec.name);
    }
    if (spec.operands == Operands::run_id) {
        words.emplace_back("RUN_ID");
    }
    for (const char* name : spec.options) {
        words.push_back(option_usage(option(name)));
    }
    if (spec.operands == Operands::prompt) {
        words.emplace_back("TASK [PROMPT...]");
    }
    // Continuation lines start under the first word after "dispatch".
    const std::string continuation = indent + std::string(9, ' ');
    std::string text, line = indent + words[0];
    for (size_t i = 1; i < words.size(); ++i) {
        if (line.size() + 1 + words[i].size() > k_usage_width) {
            text += line + "\n";
            line = continuation + words[i];
        } else {
            line += " " + words[i];
        }
    }
    return text + line + "\n";
}

// "claude, aider, ...": the agents dispatch-AGENT may name.
std::string agent_names() {
    std::string names;
    for (const AgentCli& cli : agent_clis()) {
        names += (names.empty() ? "" : ", ") + cli.name;
    }
    return names;
}

} // namespace

bool is_reserved_word(std::string_view word) {
    const auto& all = subcommands();
    return std::any_of(all.begin() + 1, all.end(),
                       [&](const SubcommandSpec& spec) { return word == spec.name; });
}

std::string synopsis() {
    std::string text;
    for (const SubcommandSpec& spec : subcommands()) {
        text += synopsis_of(spec, "");
    }
    return text;
}

std::string usage_text() {
    std::string text = "usage:\n";
    for (const SubcommandSpec& spec : subcommands()) {
        text += synopsis_of(spec, "  ");
    }
    text += "\noptions:\n";
    std::vector<std::string> names;
    size_t width = 0;
    for (const OptionSpec& spec : k_options) {
        std::string name = *spec.short_name != '\0' ? std::string("-") + spec.short_name + ", "
                                                    : std::string("    ");
        name += std::string("--") + spec.name;
        if (spec.kind != Kind::flag) {
            name += std::string(" ") + spec.value_name;
        }
        width = std::max(width, name.size());
        names.push_back(std::move(name));
    }
    for (size_t i = 0; i < names.size(); ++i) {
        text += "  " + names[i] + std::string(width + 2 - names[i].size(), ' ') +
                k_options[i].help + "\n";
    }
    text += "\nStarted as dispatch-unified it runs the unified agents, as dispatch-AGENT that\n";
    text += "agent (AGENT: " + agent_names() + "); each name also with .sh.\n";
    text += "Options may stand anywhere; after -- every word belongs to the prompt.\n";
    text += "Exit codes: 0 all agents succeeded, 1 an agent failed, 2 usage or config error,\n";
    text += "3 setup error, 124 timed out, 130 cancelled. See docs/dispatch.md.\n";
    return text;
}

Result<CommandLine> parse_command_line(int argc, const char* const* argv) {
    cxxopts::Options parser = make_parser();
    CommandLine line;
    try {
        const cxxopts::ParseResult parsed = parser.parse(argc, argv);
        if (parsed.count("help") != 0 || parsed.count("version") != 0) {
            line.subcommand = parsed.count("help") != 0 ? Subcommand::help : Subcommand::version;
            line.args = NoArgs{};
            return line;
        }
        const std::vector<std::string> words = parsed.count("words") != 0
                                                   ? parsed["words"].as<std::vector<std::string>>()
                                                   : std::vector<std::string>{};
        if (words.empty()) {
            return input_error("missing TASK (or list, status, logs); see dispatch --help");
        }
        const SubcommandSpec& spec = spec_for(words[0]);
        if (Status ok = only_for(parsed, spec); !ok) {
            return ok.error();
        }
        if (Status ok = check_operands(spec, words); !ok) {
            return ok.error();
        }
        Result<Values> values = Values::read(parsed);
        if (!values) {
            return values.error();
        }
        line.config_path = values->text("config");
        if (values->has("config") && line.config_path.empty()) {
            return input_error("-c needs a path");
        }
        Result<SubcommandArgs> args = spec.read(*values, words);
        if (!args) {
            return args.error();
        }
        line.subcommand = spec.subcommand;
        line.user = values->text("user");
        line.args = std::move(*args);
        if (auto* run = std::get_if<RunArgs>(&line.args); run != nullptr && argc > 0) {
            apply_program_name(argv[0], *run);
        }
        return line;
    } catch (const cxxopts::exceptions::exception& e) {
        // cxxopts quotes names with ‘’ (Debian 12's 3.1) or '' (Debian 13's 3.2): always ''.
        std::string message = e.what();
        for (const char* quote : {"\u2018", "\u2019"}) {
            for (size_t at = message.find(quote); at != std::string::npos;
                 at = message.find(quote, at)) {
                message.replace(at, std::strlen(quote), "'");
            }
        }
        return input_error(message);
    }
}

} // namespace fleet
