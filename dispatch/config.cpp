#include "dispatch/config.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <initializer_list>
#include <sys/stat.h>
#include <unistd.h>

#include <toml++/toml.h>

#include "base/drop_ins.hpp"
#include "base/toml_check.hpp"
#include "base/trusted_file.hpp"
#include "dispatch/agents/agent_cli.hpp"
#include "dispatch/cli.hpp"
#include "dispatch/placeholders.hpp"
#include "dispatch/run_metrics.hpp"
#include "launch/environment.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

constexpr size_t k_max_config_bytes = 1 << 20;

// The mode whose to_string is the word at `key` of `table`; none when the key is absent, or
// (a failure naming the words, at `where`) when the word is none of them.
template <typename Mode>
std::optional<Mode> parse_mode(const toml::table& table, const std::string& key,
                               const std::string& where, std::initializer_list<Mode> modes,
                               TomlChecker& check) {
    if (!table.contains(key)) {
        return std::nullopt;
    }
    std::string word;
    check.string(table, key, where, word);
    std::string words;
    size_t index = 0;
    for (const Mode mode : modes) {
        if (word == to_string(mode)) {
            return mode;
        }
        const char* separator = index == 0 ? "" : index + 1 == modes.size() ? " or " : ", ";
        words += separator + ("\"" + std::string(to_string(mode)) + "\"");
        ++index;
    }
    check.fail(where, "must be " + words);
    return std::nullopt;
}

// `confine`: "auto" (what the kernel offers, recorded), "required" or "off".
std::optional<ConfineMode> parse_confine(const toml::table& table, const std::string& where,
                                         TomlChecker& check) {
    return parse_mode(table, "confine", where,
                      {ConfineMode::best_effort, ConfineMode::required, ConfineMode::off}, check);
}

// memory_max, pids_max, cpu_max of `table` (the top level: the run's; an agent's: its own).
void parse_limits(const toml::table& table, const std::string& prefix, TomlChecker& check,
                  Limits& limits) {
    if (const toml::node* node = table.get("memory_max")) {
        const std::string where = prefix + "memory_max";
        Result<uint64_t> bytes = input_error("must be a size such as \"2G\" or a number of bytes");
        if (const auto text = node->value_exact<std::string>()) {
            bytes = parse_memory_size(*text);
        } else if (const auto number = node->value_exact<int64_t>(); number && *number > 0) {
            bytes = static_cast<uint64_t>(*number);
        }
        if (!bytes) {
            check.fail(where, bytes.error().message);
        } else if (*bytes < k_min_memory_max) {
            check.fail(where, format_bytes(*bytes) + " is below " + format_bytes(k_min_memory_max) +
                                  ", too little to start an agent");
        } else {
            limits.memory_max = *bytes;
        }
    }
    if (table.contains("pids_max")) {
        size_t pids = 0;
        check.integer(table, "pids_max", prefix + "pids_max", 1,
                      static_cast<int64_t>(k_max_pids_max), pids);
        limits.pids_max = pids;
    }
    if (const toml::node* node = table.get("cpu_max")) {
        const auto cpus = node->value<double>(); // an integer is a number of CPUs too
        if (!cpus || !(*cpus >= k_min_cpu_max && *cpus <= k_max_cpu_max)) {
            check.fail(prefix + "cpu_max", "must be a number of CPUs from 0.01 to 1024");
        } else {
            limits.cpu_max = *cpus;
        }
    }
}

// An agent's limit above the run's own: a contradiction, refused.
void check_within_run(const Config& config, const AgentConfig& agent, TomlChecker& check) {
    const Limits& run = config.run_limits;
    const Limits& own = agent.limits;
    const std::string where = "agents." + agent.name + ".";
    if (own.memory_max && run.memory_max && *own.memory_max > *run.memory_max) {
        check.fail(where + "memory_max", format_bytes(*own.memory_max) +
                                             " is above the run's memory_max (" +
                                             format_bytes(*run.memory_max) + ")");
    }
    if (own.pids_max && run.pids_max && *own.pids_max > *run.pids_max) {
        check.fail(where + "pids_max", std::to_string(*own.pids_max) +
                                           " is above the run's pids_max (" +
                                           std::to_string(*run.pids_max) + ")");
    }
    if (own.cpu_max && run.cpu_max && *own.cpu_max > *run.cpu_max) {
        check.fail(where + "cpu_max", "is above the run's cpu_max");
    }
}

void parse_ports(const toml::table& table, const std::string& where, TomlChecker& check,
                 std::vector<uint16_t>& ports) {
    const toml::node* node = table.get("tcp_connect");
    if (node == nullptr) {
        return;
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) {
        check.fail(where, "must be an array of TCP ports");
        return;
    }
    for (const toml::node& element : *array) {
        const auto port = element.value<int64_t>();
        if (!port || *port < 1 || *port > 65535) {
            check.fail(where, "must be an array of TCP ports (1 to 65535)");
            return;
        }
        ports.push_back(static_cast<uint16_t>(*port));
    }
}

void parse_common(const toml::table& table, const std::string& where, TomlChecker& check,
                  AgentConfig& agent) {
    if (const toml::node* env = table.get("env")) {
        const toml::table* env_table = env->as_table();
        if (env_table == nullptr) {
            check.fail(where + ".env", "must be a table of strings");
            return;
        }
        for (const auto& [key, value] : *env_table) {
            const std::string var(key.str());
            const auto text = value.value<std::string>();
            if (!is_valid_env_name(var) || !text) {
                check.fail(where + ".env." + var, "must be a string with a valid variable name");
                return;
            }
            agent.env.emplace_back(var, *text);
        }
    }
    check.string(table, "env_file", where + ".env_file", agent.env_file);
    if (!agent.env_file.empty() && agent.env_file[0] != '/') {
        check.fail(where + ".env_file", "must be an absolute path");
    }
    check.duration(table, "timeout", where + ".timeout", agent.timeout);
    check.string(table, "workdir", where + ".workdir", agent.workdir);
    if (!agent.workdir.empty() && agent.workdir[0] != '/') {
        check.fail(where + ".workdir", "must be an absolute path");
    }
    check.string(table, "repo", where + ".repo", agent.repo);
    check.string(table, "ref", where + ".ref", agent.ref);
    if (!agent.repo.empty() && agent.repo[0] != '/') {
        check.fail(where + ".repo", "must be an absolute path");
    } else if (!agent.repo.empty() && !agent.workdir.empty()) {
        check.fail(where + ".repo", "excludes workdir: the agent's clone is its work directory");
    } else if (!agent.ref.empty() && agent.repo.empty()) {
        check.fail(where + ".ref", "needs a repo");
    }
    agent.confine = parse_confine(table, where + ".confine", check);
    check.string_list(table, "read", where + ".read", agent.read);
    check.string_list(table, "write", where + ".write", agent.write);
    parse_ports(table, where + ".tcp_connect", check, agent.tcp_connect);
    parse_limits(table, where + ".", check, agent.limits);
}

void parse_builtin_agent(const std::string& name, const toml::table& table, TomlChecker& check,
                         AgentConfig& agent) {
    const std::string where = "agents." + name;
    if (table.contains("command") || table.contains("stdin")) {
        check.fail(where, "is a built-in agent: adjust it with binary, args, model, base_url");
        return;
    }
    check.only_keys(table, where,
                    {"binary", "args", "model", "env", "env_file", "base_url", "timeout", "workdir",
                     "repo", "ref", "confine", "read", "write", "tcp_connect", "memory_max",
                     "pids_max", "cpu_max"});
    check.string(table, "binary", where + ".binary", agent.binary);
    check.string_list(table, "args", where + ".args", agent.args);
    check.string(table, "model", where + ".model", agent.model);
    check.string(table, "base_url", where + ".base_url", agent.base_url);
    parse_common(table, where, check, agent);
}

void parse_agent(const std::string& name, const toml::table& table, TomlChecker& check,
                 AgentConfig& agent) {
    const std::string where = "agents." + name;
    agent.name = name;
    if (!is_valid_name(name)) {
        check.fail(where, "agent names are [a-z0-9][a-z0-9_-]*, at most 64 characters");
        return;
    }
    if (agent.builtin) {
        parse_builtin_agent(name, table, check, agent);
        return;
    }
    check.only_keys(table, where,
                    {"command", "stdin", "env", "env_file", "timeout", "workdir", "repo", "ref",
                     "confine", "read", "write", "tcp_connect", "memory_max", "pids_max",
                     "cpu_max"});
    const toml::array* command = table["command"].as_array();
    if (command == nullptr || command->empty()) {
        check.fail(where + ".command", "must be a non-empty array of strings");
        return;
    }
    for (const toml::node& element : *command) {
        const auto text = element.value<std::string>();
        if (!text) {
            check.fail(where + ".command", "must be a non-empty array of strings");
            return;
        }
        Result<std::vector<std::string>> names = placeholder_names(*text);
        if (!names) {
            check.fail(where + ".command", names.error().message);
            return;
        }
        for (const std::string& placeholder : *names) {
            const auto& known = command_placeholders();
            if (std::find(known.begin(), known.end(), placeholder) == known.end()) {
                check.fail(where + ".command", "unknown placeholder {" + placeholder + "}");
                return;
            }
        }
        agent.command.push_back(*text);
    }
    if (agent.command[0].find('{') != std::string::npos) {
        check.fail(where + ".command", "the program (first element) cannot be a placeholder");
    }
    std::string stdin_mode = "null";
    check.string(table, "stdin", where + ".stdin", stdin_mode);
    if (stdin_mode != "null" && stdin_mode != "prompt") {
        check.fail(where + ".stdin", "must be \"null\" or \"prompt\"");
    }
    agent.stdin_prompt = stdin_mode == "prompt";
    parse_common(table, where, check, agent);
}

} // namespace

const char* to_string(RunEventsMode mode) {
    return mode == RunEventsMode::off ? "off" : "syslog";
}

bool is_valid_name(std::string_view name) {
    if (name.empty() || name.size() > 64) {
        return false;
    }
    const auto lower_or_digit = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    };
    if (!lower_or_digit(name[0])) {
        return false;
    }
    return std::all_of(name.begin(), name.end(),
                       [&](char c) { return lower_or_digit(c) || c == '_' || c == '-'; });
}

namespace {

// [tasks.NAME]: a template with {prompt} (and the other placeholders), an artifact to collect.
TaskConfig parse_task(const std::string& name, const toml::table& table, TomlChecker& check) {
    const std::string where = "tasks." + name;
    check.only_keys(table, where, {"template", "artifact"});
    TaskConfig task{name, "", ""};
    check.string(table, "template", where + ".template", task.template_text);
    check.string(table, "artifact", where + ".artifact", task.artifact);
    if (!task.artifact.empty() &&
        (task.artifact.find('/') != std::string::npos || task.artifact[0] == '.')) {
        check.fail(where + ".artifact", "must be a plain file name");
    } else if (task.artifact == "log" || task.artifact == "diff" || task.artifact == "diffstat") {
        // <agent>.<artifact> would be the agent's log, patch or diffstat.
        check.fail(where + ".artifact", "'" + task.artifact + "' names a file dispatch writes");
    }
    Result<std::string> expanded = expand_placeholders(task.template_text, {{"prompt", ""}});
    if (task.template_text.empty()) {
        check.fail(where + ".template", "is missing or empty");
    } else if (!expanded) {
        check.fail(where + ".template", expanded.error().message);
    }
    return task;
}

// Calls `parse(name, table)` for each [KEY.NAME] table; stops at the first that is none.
template <typename Parse>
void each_table(const toml::table& root, const char* key, TomlChecker& check, Parse parse) {
    const toml::table* tables =
        check.table(root, key, key, std::string("a table of [") + key + ".NAME] tables");
    if (tables == nullptr) {
        return;
    }
    for (const auto& [name_key, value] : *tables) {
        const std::string name(name_key.str());
        const toml::table* table = value.as_table();
        if (table == nullptr) {
            check.fail(std::string(key) + "." + name, "must be a table");
            return;
        }
        parse(name, *table);
    }
}

// The top-level keys but [agents] and [tasks].
void parse_settings(const toml::table& root, TomlChecker& check, Config& config) {
    check.string_list(root, "unified", "unified", config.unified);
    check.string_list(root, "path", "path", config.path);
    for (const std::string& dir : config.path) {
        if (dir.empty() || (dir[0] != '/' && dir.rfind("~/", 0) != 0) ||
            dir.find(':') != std::string::npos) {
            check.fail("path", "'" + dir + "' must be an absolute directory or start with ~/");
        }
    }
    check.string(root, "user", "user", config.user);
    check.string(root, "runs_dir", "runs_dir", config.runs_dir);
    if (!config.runs_dir.empty() && config.runs_dir[0] != '/') {
        check.fail("runs_dir", "must be an absolute path");
    }
    if (root.contains("prune_older_than")) { // a duration > 0: leave it out to keep every run
        Duration older_than{0};
        check.duration(root, "prune_older_than", "prune_older_than", older_than);
        config.prune_older_than = older_than;
    }
    check.string(root, "default_agent", "default_agent", config.default_agent);
    check.integer(root, "max_parallel", "max_parallel", 1, 1024, config.max_parallel);
    check.duration(root, "timeout", "timeout", config.timeout);
    check.duration(root, "grace", "grace", config.grace);
    check.boolean(root, "no_new_privs", "no_new_privs", config.no_new_privs);
    config.confine = parse_confine(root, "confine", check).value_or(ConfineMode::best_effort);
    config.limits =
        parse_mode(root, "limits", "limits",
                   {LimitsMode::best_effort, LimitsMode::required, LimitsMode::off}, check)
            .value_or(config.limits);
    parse_limits(root, "", check, config.run_limits);
    // 0 to 1000: an agent is never made less likely than a service to be killed.
    size_t oom_score_adj = k_default_oom_score_adj;
    check.integer(root, "oom_score_adj", "oom_score_adj", 0, 1000, oom_score_adj);
    config.oom_score_adj = static_cast<int>(oom_score_adj);
    config.run_events = parse_mode(root, "run_events", "run_events",
                                   {RunEventsMode::syslog, RunEventsMode::off}, check)
                            .value_or(config.run_events);
    check.string(root, "metrics_file", "metrics_file", config.metrics_file);
}

// The checked configuration of a parsed (and maybe merged) document.
Result<Config> config_from(const toml::table& root, const std::string& source) {
    Config config;
    config.source = source;
    config.tasks["run"] = TaskConfig{"run", "{prompt}", ""};
    config.tasks["blueprint"] = TaskConfig{"blueprint", k_blueprint_template, "blueprint.md"};
    for (const AgentCli& cli : agent_clis()) {
        AgentConfig& agent = config.agents[cli.name];
        agent.name = cli.name;
        agent.builtin = true;
    }
    TomlChecker check("config " + source);
    check.locate_in(root);
    check.only_keys(root, "", {"user",          "runs_dir",      "prune_older_than",
                               "default_agent", "max_parallel",  "timeout",
                               "grace",         "no_new_privs",  "confine",
                               "limits",        "memory_max",    "pids_max",
                               "cpu_max",       "oom_score_adj", "run_events",
                               "metrics_file",  "unified",       "path",
                               "agents",        "tasks"});
    parse_settings(root, check, config);
    each_table(root, "agents", check, [&](const std::string& name, const toml::table& table) {
        parse_agent(name, table, check, config.agents[name]);
    });
    each_table(root, "tasks", check, [&](const std::string& name, const toml::table& table) {
        if (!is_valid_name(name) || is_reserved_word(name)) {
            check.fail("tasks." + name, "is not an allowed task name");
            return;
        }
        config.tasks[name] = parse_task(name, table, check);
    });
    for (const auto& [name, agent] : config.agents) {
        check_within_run(config, agent, check);
    }
    for (const std::string& name : config.unified) {
        if (config.agents.count(name) == 0) {
            check.fail("unified", "names unknown agent '" + name + "'");
        }
    }
    if (check.failed()) {
        return check.error();
    }
    return config;
}

} // namespace

Result<Config> parse_config(std::string_view text, const std::string& source) {
    Result<toml::table> parsed = parse_toml(text, "config " + source);
    if (!parsed) {
        return parsed.error();
    }
    return config_from(*parsed, source);
}

CgroupRequest plan_limits(const Config& config, const std::vector<std::string>& agents,
                          uint64_t mem_total) {
    CgroupRequest request;
    request.run = config.run_limits;
    request.oom_score_adj = config.oom_score_adj;
    if (!request.run.memory_max && mem_total > 0) { // unknown: no default, never 0
        request.run.memory_max = default_run_memory_max(mem_total);
    }
    if (!request.run.pids_max) {
        request.run.pids_max = k_default_run_pids_max;
    }
    for (const std::string& name : agents) {
        const AgentConfig& agent = config.agents.at(name);
        CgroupRequest::Agent planned{name, agent.limits};
        if (!planned.limits.pids_max) {
            planned.limits.pids_max = std::min(k_default_agent_pids_max, *request.run.pids_max);
        }
        request.agents.push_back(planned);
    }
    return request;
}

Result<Config> load_config(const std::string& explicit_path, bool as_root) {
    std::string path = explicit_path;
    bool required = !path.empty();
    if (path.empty()) {
        if (const char* env = std::getenv("FLEET_DISPATCH_CONFIG"); env != nullptr && *env) {
            path = env;
            required = true;
        } else {
            path = k_default_config_path;
        }
    }
    // As root: root's, not writable by group or others, nor any directory above it (a sticky
    // /tmp is fine: others cannot replace root's entries there). Not root: the caller's own.
    TrustRules rules;
    rules.owner = as_root ? Owner::root : Owner::anyone;
    rules.forbidden = as_root ? 022 : 0;
    rules.ancestors = as_root ? Ancestors::sticky_ok : Ancestors::unchecked;
    rules.missing = required ? IfMissing::error : IfMissing::absent;
    rules.max_bytes = k_max_config_bytes;
    Result<std::optional<std::string>> text = read_trusted_file(path, "config " + path, rules);
    if (!text) {
        return text.error();
    }
    Result<std::vector<std::string>> drop_ins = list_drop_ins(path, "config");
    if (!drop_ins) {
        return drop_ins.error();
    }
    const std::string source = *text ? path : "built-in defaults";
    Result<toml::table> root = parse_toml(text->value_or(""), "config " + source);
    if (!root) {
        return root.error();
    }
    rules.missing = IfMissing::error;
    for (const std::string& drop_in : *drop_ins) {
        Result<std::optional<std::string>> part =
            read_trusted_file(drop_in, "config " + drop_in, rules);
        if (!part) {
            return part.error();
        }
        Result<toml::table> table = parse_toml(**part, "config " + drop_in);
        if (!table) {
            return table.error();
        }
        merge_toml(*root, std::move(*table));
    }
    Result<Config> config = config_from(*root, source);
    if (!config) {
        return config;
    }
    config->drop_ins = std::move(*drop_ins);
    // Here, not at a run's end: a metrics directory that is not there is the config's error.
    const Status metrics =
        config->metrics_file.empty() ? Status(Ok{}) : check_metrics_file(config->metrics_file);
    if (!metrics) {
        return Error{metrics.error().kind, "config " + source + ": " + metrics.error().message};
    }
    return config;
}

} // namespace fleet
