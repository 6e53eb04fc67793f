#include "dispatch/cli.hpp"

#include <algorithm>
#include <cxxopts.hpp>
#include <map>

#include "dispatch/agents/agent_cli.hpp"
#include "dispatch/config.hpp"

namespace fleet {

namespace {

cxxopts::Options make_options() {
    cxxopts::Options options("dispatch", "Run AI coding agents as an unprivileged user, with logs "
                                         "and crash-safe status.");
    // clang-format off
    options.add_options()
        ("c,config", "config file", cxxopts::value<std::string>())
        ("a,agents", "agent(s) to run, comma-separated", cxxopts::value<std::string>())
        ("u,user", "target user when started as root", cxxopts::value<std::string>())
        ("timeout", "whole-run timeout, e.g. 30m", cxxopts::value<std::string>())
        ("prompt-file", "read the prompt from PATH, or - for stdin", cxxopts::value<std::string>())
        ("json", "machine-readable output")
        ("limit", "list: at most N runs (0: all)", cxxopts::value<std::string>())
        ("agent", "logs, cancel: the agent", cxxopts::value<std::string>())
        ("detach", "run in the background; print the run id and return")
        ("label", "KEY=VALUE to record with a run, or to filter list by",
         cxxopts::value<std::vector<std::string>>())
        ("state", "list: only runs in this state", cxxopts::value<std::string>())
        ("older-than", "prune: runs started longer ago than DUR", cxxopts::value<std::string>())
        ("keep", "prune: keep the newest N finished runs", cxxopts::value<std::string>())
        ("dry-run", "prune: only say what would be removed")
        ("f,follow", "logs: follow the log until the run ends")
        ("tail", "logs: only the last N lines", cxxopts::value<std::string>())
        ("raw", "logs: the agents' bytes unescaped, whatever stdout is")
        ("console", "run: full, summary or none", cxxopts::value<std::string>())
        ("fix", "doctor: repair what can be repaired")
        ("h,help", "show this help")
        ("version", "show the version")
        ("words", "", cxxopts::value<std::vector<std::string>>());
    // clang-format on
    options.parse_positional({"words"});
    return options;
}

// Splits "a,b,c"; refuses empty items and duplicates.
Result<std::vector<std::string>> split_agents(const std::string& text) {
    std::vector<std::string> agents;
    size_t start = 0;
    while (start <= text.size()) {
        const size_t comma = text.find(',', start);
        const size_t end = comma == std::string::npos ? text.size() : comma;
        const std::string agent = text.substr(start, end - start);
        if (agent.empty()) {
            return input_error("-a '" + text + "' has an empty agent name");
        }
        if (std::find(agents.begin(), agents.end(), agent) != agents.end()) {
            return input_error("-a '" + text + "' names agent '" + agent + "' twice");
        }
        agents.push_back(agent);
        start = end + 1;
    }
    return agents;
}

Status only_for(const cxxopts::ParseResult& parsed, const std::string& subcommand,
                const std::vector<const char*>& allowed) {
    for (const char* option :
         {"agents", "user", "timeout", "prompt-file", "json", "limit", "agent", "detach", "label",
          "state", "older-than", "keep", "dry-run", "follow", "tail", "raw", "console", "fix"}) {
        if (parsed.count(option) != 0 &&
            std::find_if(allowed.begin(), allowed.end(), [&](const char* a) {
                return std::string(a) == option;
            }) == allowed.end()) {
            return input_error(std::string("--") + option + " does not apply to '" + subcommand +
                               "'");
        }
    }
    return Ok{};
}

Result<size_t> parse_count(const std::string& option, const std::string& text) {
    if (text.empty() || text.size() > 7 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
        return input_error(option + " '" + text + "' is not a number");
    }
    return static_cast<size_t>(std::stoul(text));
}

Result<std::vector<std::pair<std::string, std::string>>>
parse_labels(const cxxopts::ParseResult& parsed) {
    std::vector<std::pair<std::string, std::string>> labels;
    if (parsed.count("label") == 0) {
        return labels;
    }
    for (const std::string& text : parsed["label"].as<std::vector<std::string>>()) {
        const size_t equals = text.find('=');
        const std::string key = text.substr(0, equals);
        const bool key_ok =
            !key.empty() && key.size() <= 64 &&
            key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.-") == std::string::npos;
        if (equals == std::string::npos || !key_ok || text.size() - equals - 1 > 256) {
            return input_error("--label '" + text +
                               "' is not KEY=VALUE (KEY: [a-z0-9_.-], VALUE: up to 256 bytes)");
        }
        labels.emplace_back(key, text.substr(equals + 1));
    }
    return labels;
}

// Reads the options several subcommands share; only_for() has already refused the ones a
// subcommand does not take.
Status read_options(const cxxopts::ParseResult& parsed, CommandLine& line) {
    if (parsed.count("agent") != 0) {
        line.agent = parsed["agent"].as<std::string>();
    }
    line.follow = parsed.count("follow") != 0;
    line.raw = parsed.count("raw") != 0;
    if (parsed.count("tail") != 0) {
        Result<size_t> tail = parse_count("--tail", parsed["tail"].as<std::string>());
        if (!tail) {
            return tail.error();
        }
        line.tail = *tail;
    }
    if (parsed.count("timeout") != 0) {
        Result<Duration> timeout = parse_duration(parsed["timeout"].as<std::string>());
        if (!timeout) {
            return Error{ErrorKind::invalid_input, "--timeout: " + timeout.error().message};
        }
        line.timeout = *timeout;
    }
    return Ok{};
}

} // namespace

void apply_program_name(const std::string& argv0, CommandLine& line) {
    std::string name = argv0.substr(argv0.rfind('/') + 1);
    if (name.size() > 3 && name.compare(name.size() - 3, 3, ".sh") == 0) {
        name.resize(name.size() - 3);
    }
    if (name == "dispatch-unified") {
        line.unified = true;
        return;
    }
    for (const AgentCli& cli : agent_clis()) {
        if (name == "dispatch-" + cli.name) {
            line.alias_agent = cli.name;
        }
    }
}

namespace {

// "dispatch-claude, dispatch-aider, ...": the names dispatch answers to for one agent CLI.
std::string alias_names() {
    std::string names;
    for (const AgentCli& cli : agent_clis()) {
        names += (names.empty() ? "dispatch-" : ", dispatch-") + cli.name;
    }
    return names;
}

} // namespace

std::string usage_text() {
    return "usage: dispatch [-c CONFIG] [-a AGENT[,AGENT...]] [-u USER] [--timeout DUR]\n"
           "                [--prompt-file PATH|-] [--json] TASK [PROMPT...]\n"
           "       dispatch [-c CONFIG] list [--json] [--limit N]\n"
           "       dispatch [-c CONFIG] status RUN_ID [--json]\n"
           "       dispatch [-c CONFIG] logs RUN_ID [--agent NAME] [-f] [--tail N]\n"
           "       dispatch [-c CONFIG] agents | config\n"
           "       dispatch [-c CONFIG] wait RUN_ID [--timeout DUR]\n"
           "       dispatch [-c CONFIG] cancel RUN_ID [--agent NAME]\n"
           "       dispatch [-c CONFIG] prune [--older-than DUR] [--keep N] [--dry-run]\n"
           "       dispatch [-c CONFIG] doctor [--fix]\n"
           "A run also takes --detach, --label KEY=VALUE and --console full|summary|none;\n"
           "list takes --label and --state.\n"
           "Started as dispatch-unified (or dispatch-unified.sh) it runs the unified agents;\n"
           "as " +
           alias_names() +
           ", that agent.\n"
           "Options may stand anywhere; after -- every word belongs to the prompt.\n"
           "Exit codes: 0 all agents succeeded, 1 an agent failed, 2 usage or config error,\n"
           "3 setup error, 124 timed out, 130 cancelled. See docs/dispatch.md.\n";
}

Result<CommandLine> parse_command_line(int argc, const char* const* argv) {
    cxxopts::Options options = make_options();
    CommandLine line;
    if (argc > 0) {
        apply_program_name(argv[0], line);
    }
    try {
        const cxxopts::ParseResult parsed = options.parse(argc, argv);
        if (parsed.count("help") != 0) {
            line.subcommand = Subcommand::help;
            return line;
        }
        if (parsed.count("version") != 0) {
            line.subcommand = Subcommand::version;
            return line;
        }
        std::vector<std::string> words;
        if (parsed.count("words") != 0) {
            words = parsed["words"].as<std::vector<std::string>>();
        }
        if (parsed.count("config") != 0) {
            line.config_path = parsed["config"].as<std::string>();
            if (line.config_path.empty()) {
                return input_error("-c needs a path");
            }
        }
        line.json = parsed.count("json") != 0;
        if (words.empty()) {
            return input_error("missing TASK (or list, status, logs); see dispatch --help");
        }
        const std::string first = words[0];
        if (first == "list") {
            line.subcommand = Subcommand::list;
            if (Status ok = only_for(parsed, first, {"json", "limit", "label", "state"}); !ok) {
                return ok.error();
            }
            if (words.size() > 1) {
                return input_error("list takes no operands");
            }
            if (parsed.count("limit") != 0) {
                Result<size_t> limit = parse_count("--limit", parsed["limit"].as<std::string>());
                if (!limit) {
                    return limit.error();
                }
                line.limit = *limit;
            }
            Result<std::vector<std::pair<std::string, std::string>>> labels = parse_labels(parsed);
            if (!labels) {
                return labels.error();
            }
            line.labels = *labels;
            if (parsed.count("state") != 0) {
                line.state = parsed["state"].as<std::string>();
            }
            return line;
        }
        // The subcommands about one run: each with the options it takes.
        static const std::map<std::string, std::pair<Subcommand, std::vector<const char*>>>
            k_run_commands = {
                {"status", {Subcommand::status, {"json"}}},
                {"logs", {Subcommand::logs, {"agent", "follow", "tail", "raw"}}},
                {"wait", {Subcommand::wait, {"timeout"}}},
                {"cancel", {Subcommand::cancel, {"agent"}}},
            };
        if (const auto command = k_run_commands.find(first); command != k_run_commands.end()) {
            line.subcommand = command->second.first;
            if (Status ok = only_for(parsed, first, command->second.second); !ok) {
                return ok.error();
            }
            if (words.size() != 2) {
                return input_error(first + " takes exactly one RUN_ID");
            }
            line.run_id = words[1];
            if (Status ok = read_options(parsed, line); !ok) {
                return ok.error();
            }
            return line;
        }
        if (first == "doctor") {
            line.subcommand = Subcommand::doctor;
            if (Status ok = only_for(parsed, first, {"fix", "user"}); !ok) {
                return ok.error();
            }
            if (words.size() > 1) {
                return input_error("doctor takes no operands");
            }
            line.fix = parsed.count("fix") != 0;
            if (parsed.count("user") != 0) {
                line.user = parsed["user"].as<std::string>();
            }
            return line;
        }
        if (first == "prune") {
            line.subcommand = Subcommand::prune;
            if (Status ok = only_for(parsed, first, {"older-than", "keep", "dry-run"}); !ok) {
                return ok.error();
            }
            if (words.size() > 1) {
                return input_error("prune takes no operands");
            }
            if (parsed.count("older-than") != 0) {
                Result<Duration> older = parse_duration(parsed["older-than"].as<std::string>());
                if (!older) {
                    return Error{ErrorKind::invalid_input,
                                 "--older-than: " + older.error().message};
                }
                line.older_than = *older;
            }
            if (parsed.count("keep") != 0) {
                Result<size_t> keep = parse_count("--keep", parsed["keep"].as<std::string>());
                if (!keep) {
                    return keep.error();
                }
                line.keep = *keep;
            }
            if (!line.older_than && !line.keep) {
                return input_error("prune needs --older-than DUR or --keep N (or both)");
            }
            line.dry_run = parsed.count("dry-run") != 0;
            return line;
        }
        if (first == "agents" || first == "config") {
            line.subcommand = first == "agents" ? Subcommand::agents : Subcommand::config;
            if (Status ok = only_for(parsed, first, {}); !ok) {
                return ok.error();
            }
            if (words.size() > 1) {
                return input_error(first + " takes no operands");
            }
            return line;
        }
        if (is_reserved_word(first)) {
            return input_error("'" + first + "' is not available yet in this version");
        }
        line.subcommand = Subcommand::run;
        if (Status ok = only_for(
                parsed, "TASK",
                {"agents", "user", "timeout", "prompt-file", "json", "detach", "label", "console"});
            !ok) {
            return ok.error();
        }
        line.detach = parsed.count("detach") != 0;
        if (parsed.count("console") != 0) {
            line.console = parsed["console"].as<std::string>();
            if (line.console != "full" && line.console != "summary" && line.console != "none") {
                return input_error("--console '" + line.console + "': use full, summary or none");
            }
        }
        Result<std::vector<std::pair<std::string, std::string>>> labels = parse_labels(parsed);
        if (!labels) {
            return labels.error();
        }
        line.labels = *labels;
        line.task = first;
        line.prompt_words.assign(words.begin() + 1, words.end());
        if (parsed.count("agents") != 0) {
            Result<std::vector<std::string>> agents =
                split_agents(parsed["agents"].as<std::string>());
            if (!agents) {
                return agents.error();
            }
            line.agents = *agents;
        }
        if (parsed.count("user") != 0) {
            line.user = parsed["user"].as<std::string>();
        }
        if (Status ok = read_options(parsed, line); !ok) {
            return ok.error();
        }
        if (parsed.count("prompt-file") != 0) {
            line.prompt_file = parsed["prompt-file"].as<std::string>();
            if (line.prompt_file.empty()) {
                return input_error("--prompt-file needs a path or -");
            }
            if (!line.prompt_words.empty()) {
                return input_error("give the prompt as words or with --prompt-file, not both");
            }
        }
        return line;
    } catch (const cxxopts::exceptions::exception& e) {
        return input_error(e.what());
    }
}

} // namespace fleet
