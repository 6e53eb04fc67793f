// A run's numbers for Prometheus (docs/dispatch.md, "Metrics"): with `metrics_file` set, each
// run's end rewrites that file, in a directory of the user's own, for node_exporter's textfile
// collector, which reads it through a root-owned link in its directory: per agent the last success
// time, the last run's outcome, duration, tokens, cost, memory and CPU, its confinement level and
// whether its limits held, and counters of runs by outcome, of tokens and of cost. No timestamps in
// the file (the collector refuses them); the scrape is the time.
//
// Counters outlive runs in a state file, <runs_dir>/metrics.json, the user's like the runs
// tree (protected from agents like it: dispatch/agent_access.hpp). Who writes: the runner,
// once the run's status is final, and for a run whose runner died the caller's process
// (runner_process.hpp), as `lost`; both are the agent user. At the end of a run:
//
//   open(<runs_dir>/metrics.lock, O_RDWR|O_CREAT|O_NOFOLLOW|O_CLOEXEC, 0600) — fails: reason
//   flock(LOCK_EX)        — runs that end together count one after the other; the lock file is
//                           never renamed, so every writer locks the same inode. Tried for 5 s
//                           at most (LOCK_NB, retried): a holder that never lets go (an
//                           unconfined agent is the same user) costs this run's numbers, never
//                           its end
//   read metrics.json     — missing: counters start at zero; unreadable or not ours (bad JSON,
//                           wrong types): they start again at zero (Prometheus' rate() takes
//                           that as a restart) and the reason says so
//   count the run (what an agent reported of its usage only when it is a count: a negative or
//   infinite cost is left out, totals saturate); write metrics.json atomically
//   (base/atomic_file.hpp), 0600 open(dirname(metrics_file), O_DIRECTORY|O_CLOEXEC); write the file
//   atomically, 0644 (the collector runs as another user): readers see the old text or the new,
//   never a torn one; the temp file is ".<name>.<random>.tmp", which the collector's *.prom never
//   matches
//
// Nothing here fails a run: what could not be written is runner.log's line. The directory
// must exist when the config is loaded (check_metrics_file) and be writable by the agent user
// (docs/dispatch.md, "Metrics").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "base/clock.hpp"
#include "runner/status.hpp"
#include "sys/result.hpp"

namespace fleet {

// What the state file keeps of one agent.
struct AgentMetrics {
    std::map<std::string, uint64_t> runs; // by outcome: status.json's agent words, or "lost"
    std::optional<double> last_success;   // Unix seconds of its last success's end
    std::optional<double> last_end;       // Unix seconds of its last run's end
    std::string last_outcome;
    std::optional<double> last_duration; // seconds
    std::optional<uint64_t> last_input_tokens, last_output_tokens;
    std::optional<double> last_cost_usd;
    std::optional<uint64_t> last_memory_peak; // bytes
    std::optional<double> last_cpu_seconds;
    std::string confinement;            // to_string(ConfinementLevel), when it was started
    std::optional<bool> limits_applied; // when it was started
    uint64_t input_tokens_total = 0, output_tokens_total = 0, oom_kills_total = 0;
    double cost_usd_total = 0;
};

struct MetricsState {
    std::map<std::string, uint64_t> runs; // by run outcome
    std::map<std::string, AgentMetrics> agents;
};

// Adds a finished run (state not running) to `state`: its outcome, and each agent that ran.
// An agent still running in a lost run counts as "lost"; pending and skipped agents did not
// run and count nowhere.
void count_run(MetricsState& state, const RunStatus& status);

std::string to_json(const MetricsState& state);
// The state file's text; an Error names what is wrong in it.
Result<MetricsState> metrics_state_from_json(const std::string& text);

// The Prometheus text exposition format (version 0.0.4) of `state`: HELP and TYPE lines, then
// the series in a stable order.
std::string metrics_text(const MetricsState& state);

// `path` as the config's metrics_file: absolute, ending in ".prom", in a directory that
// exists. An Error is the one line the config load reports.
Status check_metrics_file(const std::string& path);

// Counts `status` (final) in <runs_dir>/metrics.json and rewrites `metrics_file`, as the
// header says. "" when done, else why not, for runner.log. `metrics_file` empty: nothing.
std::string record_run_metrics(const std::string& metrics_file, const std::string& runs_dir,
                               const RunStatus& status);

} // namespace fleet
