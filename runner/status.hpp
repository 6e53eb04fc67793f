// What status.json says about a run and its agents, and the rules that fold agent outcomes into
// the run's state and exit code. The schema is part of the interface (docs/dispatch.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "base/agent_outcome.hpp"
#include "runner/confinement.hpp"
#include "runner/limits.hpp"
#include "sys/result.hpp"

namespace fleet {

enum class RunState { running, succeeded, failed, timed_out, cancelled, lost };
enum class AgentState {
    pending,
    running,
    succeeded,
    failed,
    timed_out,
    cancelled,
    spawn_failed,
    skipped, // unified mode: the agent's binary is not installed; not a failure of the run
};

const char* to_string(RunState state);
const char* to_string(AgentState state);

// An agent's repository (runner/agent_repo.hpp): where its clone started, what it changed.
struct AgentRepo {
    std::string origin, ref, base; // base: the commit it started from
    std::string branch;            // fleet/RUN/AGENT; empty once it changed nothing
    std::string commit;            // the result, when it changed something
    bool collected = false;        // its changes were looked at (it has finished)
    bool changed = false;
    uint64_t files = 0, insertions = 0, deletions = 0;
    std::string patch;      // <run dir>/<agent>.diff, when it changed something
    bool in_origin = false; // the branch was created in the origin
    std::string note;       // e.g. the origin's uncommitted changes were ignored
    std::string error;      // what could not be done, when something could not
};

struct AgentStatus {
    std::string name;
    AgentState state = AgentState::pending;
    std::optional<int> exit_code; // set when the agent exited
    std::optional<int> signal;    // set when a signal killed it
    bool core_dumped = false;
    std::string reason;      // why it did not succeed, when known
    std::string started_at;  // RFC 3339, empty until started
    std::string finished_at; // RFC 3339, empty until finished
    std::string log;         // absolute path of its raw log
    uint64_t bytes = 0;      // bytes written to the log
    std::string log_error;   // why the log stopped growing (e.g. ENOSPC), if it did
    pid_t pid = 0;
    AgentUsage usage;
    std::string artifact; // a file the task asked for, copied into the run directory
    std::optional<Confinement> confinement;  // set once it was started (confinement.hpp)
    std::optional<AgentLimits> limits;       // set once it was started (limits.hpp)
    std::optional<AgentResources> resources; // what its cgroup counted, once finished
    std::optional<AgentRepo> repo;           // when it worked on a repository
};

// The run's cgroups (run_cgroups.hpp): where, in which mode, with what, or why not.
struct RunLimits {
    std::string mode = "off"; // to_string(LimitsMode): "off" makes no cgroup
    std::string cgroup_mode;  // sys/cgroup.hpp's words: v2, hybrid, v1, none
    bool applied = false;
    std::string not_applied; // why not, when not (and mode is not "off")
    std::string cgroup;      // the run's cgroup, when applied
    Limits limits;           // the run's own
};

struct RunStatus {
    std::string run_id;
    RunState state = RunState::running;
    std::optional<int> exit_code; // dispatch's exit code, once finished
    std::string started_at;
    std::string finished_at;
    pid_t pid = 0;                             // the runner
    unsigned long long pid_start = 0;          // the runner's start time (/proc/PID/stat field 22)
    std::map<std::string, std::string> labels; // --label KEY=VALUE, and ssm-command-id
    bool pid_namespace = false;   // the runner is init of the run's own (runner_process.hpp)
    std::string no_pid_namespace; // why not, when not
    RunLimits limits;
    std::vector<AgentStatus> agents;
};

// Exit codes of dispatch (docs/dispatch.md). Never 137, 168, 169 or 194: SSM reads those.
constexpr int k_exit_ok = 0;
constexpr int k_exit_agent_failed = 1;
constexpr int k_exit_usage = 2;
constexpr int k_exit_setup = 3;
constexpr int k_exit_timed_out = 124;
constexpr int k_exit_cancelled = 130;

// cancelled > timed_out > failed (incl. spawn_failed) > succeeded; skipped agents count for
// nothing, unless every agent was skipped (then nothing ran: 1).
int fold_exit_code(const std::vector<AgentStatus>& agents);
RunState state_for_exit_code(int exit_code);

std::string to_json(const RunStatus& status, int indent = 2);

// status.json text as one compact line, with a "running" state turned into "lost" when
// `runner_alive` is false and the run id set to `run_id` (the directory's name: the file's own
// claim is not trusted): one parse and one dump, for listing thousands of runs.
struct CompactStatus {
    std::string json;
    std::string started_at;
};
Result<CompactStatus> compact_status_json(const std::string& text, const std::string& run_id,
                                          bool runner_alive);
Result<RunStatus> run_status_from_json(const std::string& text);

} // namespace fleet
