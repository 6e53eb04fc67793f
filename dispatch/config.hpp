// dispatch's configuration: TOML, validated whole before anything runs (docs/dispatch.md).
//
// Where from: `-c PATH`, else $FLEET_DISPATCH_CONFIG, else /etc/fleet-dispatch/config.toml;
// without a file at the default path, built-in defaults apply (a path that was asked for must
// exist). Strict: an unknown key, a wrong type or a bad value is an error naming the key.
//
// Drop-ins: the files `*.toml` of the directory beside it named like it without ".toml" and with
// ".d" (config.toml: config.d/), in byte order of their names, merged over it (merge_toml: a key
// replaces the same key, tables merge key by key, arrays are replaced). What set-up tools write
// (fleet-dispatch-setup, the Ansible role) goes there, so the package's config.toml, a conffile,
// is never rewritten and an upgrade never stops at dpkg's question. The merged document is
// checked as one, just as strictly; an error names the drop-in its key came from. Which names
// count, and how many: base/drop_ins.hpp. Each is read with the file's own rules, so as root a
// drop-in not root's, or in a directory others can write, refuses the whole config.
//
// When dispatch runs as root the file must be a regular file owned by root and not writable by
// group or others, and so must every directory above it (a world-writable directory is
// accepted only with the sticky bit, which stops others from replacing root's entries), like
// sshd's StrictModes: whoever can write the config chooses what root starts.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/duration.hpp"
#include "runner/confinement.hpp"
#include "runner/limits.hpp"
#include "runner/run_cgroups.hpp"
#include "sys/result.hpp"

namespace fleet {

// The runner's and so every agent's oom_score_adj unless the config says otherwise: above what
// anything else on a server gets by default (services 0, systemd user sessions 100 to 200; SSM's
// agent -900, which everything it starts inherits), so that under memory pressure the kernel takes
// an agent before a service (docs/dispatch.md, "Limits").
constexpr int k_default_oom_score_adj = 500;

struct AgentConfig {
    std::string name;
    bool builtin = false; // one of the five agent CLIs (dispatch/agents/agent_cli.hpp)
    // Generic agents: a command line with placeholders, and where the prompt goes.
    std::vector<std::string> command; // placeholders: see command_placeholders()
    bool stdin_prompt = false;        // stdin = "prompt"; default "null"
    // Built-in agents: the adapter builds the command line; these adjust it.
    std::string binary;            // default: the agent's name, looked up in the agent PATH
    std::vector<std::string> args; // appended to the adapter's arguments
    std::string model;
    std::string base_url;
    // Both.
    std::vector<std::pair<std::string, std::string>> env;
    std::string env_file; // KEY=VALUE lines, read as root before the drop (session.hpp)
    std::vector<std::pair<std::string, std::string>> secret_env; // what env_file held
    Duration timeout{0};                                         // 0: no per-agent timeout
    std::string workdir; // empty: a fresh work-<agent> directory in the run directory
    // A repository to work on (runner/agent_repo.hpp): its own clone, at `ref` (empty: the
    // origin's HEAD), becomes its work directory. Excludes `workdir`.
    std::string repo;
    std::string ref;
    // Confinement (dispatch/agent_access.hpp): the config's `confine` unless set here, and
    // what the agent may read, write and connect to beyond what every agent gets.
    std::optional<ConfineMode> confine;
    std::vector<std::string> read;     // absolute or ~/..., checked by check_access_paths
    std::vector<std::string> write;    // likewise
    std::vector<uint16_t> tcp_connect; // non-empty: TCP connect only to these (and base_url's)
    // Limits (runner/limits.hpp): its own cgroup's, within the run's; unset pids_max is
    // k_default_agent_pids_max, other unset limits leave only the run's.
    Limits limits;
};

// run_events (dispatch/run_events.hpp): "syslog", the default (journald's socket, else
// /dev/log), or "off".
enum class RunEventsMode { syslog, off };
const char* to_string(RunEventsMode mode);

struct TaskConfig {
    std::string name;
    std::string template_text; // placeholder: {prompt}
    std::string artifact;      // a file the agent writes in its workdir, collected after it
};

struct Config {
    std::string source;                // the file read, or "built-in defaults"
    std::vector<std::string> drop_ins; // the drop-ins merged over it, in order
    std::string user = "ubuntu";
    std::string runs_dir; // empty: <home>/.local/state/fleet-dispatch/runs
    // `dispatch prune` without --older-than or --keep (the prune timer): finished runs older
    // than this go; unset, it removes nothing.
    std::optional<Duration> prune_older_than;
    std::string default_agent = "claude";
    size_t max_parallel = 4;
    Duration timeout = std::chrono::hours(1);
    Duration grace = std::chrono::seconds(10);
    bool no_new_privs = true;
    ConfineMode confine = ConfineMode::best_effort; // "auto"
    LimitsMode limits = LimitsMode::best_effort;    // "auto"
    Limits run_limits; // memory_max, pids_max, cpu_max at the top: the whole run's
    int oom_score_adj = k_default_oom_score_adj;
    RunEventsMode run_events = RunEventsMode::syslog; // a run's start and end to the host's log
    std::string metrics_file; // empty: off; else rewritten at each run's end (run_metrics.hpp)
    std::vector<std::string> unified; // dispatch-unified's agents; empty: every built-in found
    std::vector<std::string> path;    // prepended to the agents' PATH ("~/" is the user's home)
    std::map<std::string, AgentConfig> agents; // always has the five built-ins
    std::map<std::string, TaskConfig> tasks;   // always has "run" and "blueprint"
};

// The blueprint task's template (docs/dispatch.md, "Tasks").
constexpr const char* k_blueprint_template =
    "Write a blueprint for the request below: a Markdown plan of numbered tasks, each with a "
    "short title and what done means. Save it as blueprint.md in the current directory. Do not "
    "implement anything. When the current directory is a git repository, the plan is about its "
    "code.\n\nRequest: {prompt}\n";

constexpr const char* k_default_config_path = "/etc/fleet-dispatch/config.toml";

// Placeholders an agent command may use.
inline const std::vector<std::string>& command_placeholders() {
    static const std::vector<std::string> names = {"prompt",  "prompt_file", "run_id", "run_dir",
                                                   "workdir", "task",        "agent"};
    return names;
}

// Agent and task names: [a-z0-9][a-z0-9_-]*, at most 64 characters (they name files).
bool is_valid_name(std::string_view name);

// The confinement an agent gets: its own `confine`, else the config's.
inline ConfineMode confine_mode(const Config& config, const AgentConfig& agent) {
    return agent.confine.value_or(config.confine);
}

// What a run's cgroups get from the config for `agents` (the name is the caller's): the run's
// limits, defaults filled in (memory: 3/4 of `mem_total`), and each agent's own.
CgroupRequest plan_limits(const Config& config, const std::vector<std::string>& agents,
                          uint64_t mem_total);

// Parses TOML text; `source` names it in errors.
Result<Config> parse_config(std::string_view text, const std::string& source);

// Finds, checks (StrictModes when `as_root`) and parses the config. `explicit_path` is the -c
// value (empty when not given).
Result<Config> load_config(const std::string& explicit_path, bool as_root);

} // namespace fleet
