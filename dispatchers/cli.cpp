#include "cli.hpp"

#include <algorithm>
#include <cxxopts.hpp>

#include "config.hpp"

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
        ("agent", "logs: the agent whose log to print", cxxopts::value<std::string>())
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
                std::initializer_list<const char*> allowed) {
    for (const char* option :
         {"agents", "user", "timeout", "prompt-file", "json", "limit", "agent"}) {
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
    for (const char* agent : {"claude", "aider", "codex", "gemini", "grok"}) {
        if (name == std::string("dispatch-") + agent) {
            line.alias_agent = agent;
        }
    }
}

std::string usage_text() {
    return "usage: dispatch [-c CONFIG] [-a AGENT[,AGENT...]] [-u USER] [--timeout DUR]\n"
           "                [--prompt-file PATH|-] [--json] TASK [PROMPT...]\n"
           "       dispatch [-c CONFIG] list [--json] [--limit N]\n"
           "       dispatch [-c CONFIG] status RUN_ID [--json]\n"
           "       dispatch [-c CONFIG] logs RUN_ID [--agent NAME]\n"
           "       dispatch [-c CONFIG] agents | config\n"
           "Started as dispatch-unified (or dispatch-unified.sh) it runs the unified agents;\n"
           "as dispatch-claude, -aider, -codex, -gemini or -grok, that agent.\n"
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
            if (Status ok = only_for(parsed, first, {"json", "limit"}); !ok) {
                return ok.error();
            }
            if (words.size() > 1) {
                return input_error("list takes no operands");
            }
            if (parsed.count("limit") != 0) {
                const std::string text = parsed["limit"].as<std::string>();
                if (text.empty() || text.size() > 7 ||
                    text.find_first_not_of("0123456789") != std::string::npos) {
                    return input_error("--limit '" + text + "' is not a number");
                }
                line.limit = std::stoul(text);
            }
            return line;
        }
        if (first == "status" || first == "logs") {
            line.subcommand = first == "status" ? Subcommand::status : Subcommand::logs;
            if (Status ok =
                    only_for(parsed, first,
                             first == "status" ? std::initializer_list<const char*>{"json"}
                                               : std::initializer_list<const char*>{"agent"});
                !ok) {
                return ok.error();
            }
            if (words.size() != 2) {
                return input_error(first + " takes exactly one RUN_ID");
            }
            line.run_id = words[1];
            if (parsed.count("agent") != 0) {
                line.agent = parsed["agent"].as<std::string>();
            }
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
        if (Status ok =
                only_for(parsed, "TASK", {"agents", "user", "timeout", "prompt-file", "json"});
            !ok) {
            return ok.error();
        }
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
        if (parsed.count("timeout") != 0) {
            Result<Duration> timeout = parse_duration(parsed["timeout"].as<std::string>());
            if (!timeout) {
                return Error{ErrorKind::invalid_input, "--timeout: " + timeout.error().message};
            }
            line.timeout = *timeout;
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
