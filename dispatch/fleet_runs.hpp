// The runs a report shows (`dispatch report`, docs/watching-a-fleet.md): this host's, read from
// its runs directory, or many hosts' runs fetched into a directory by the Ansible playbook or
// an `aws s3 sync` of SSM's output. One format carries a run between hosts: a line of JSON
// (`dispatch report --json` prints one per run), so that a file cut short loses its last run
// only, and a line that does not read as a run becomes an unreadable run, shown as such.
//
// Everything here is data from agents or from hosts: status.json could have been rewritten by
// an agent, a fetched file by anybody who held the host. So every file is opened with
// O_NOFOLLOW relative to a directory fd (io.hpp: a link, FIFO or device is refused), every read
// is bounded (k_max_line, k_max_fetched_file, the tail and diffstat caps below), the walk of a
// --from directory never follows a link and stops at k_max_depth, and the host a fetched run
// belongs to is the directory it was found in, never what the run says of itself.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "dispatch/cli.hpp"
#include "runner/status.hpp"
#include "sys/result.hpp"

namespace fleet {

struct FleetRun {
    std::string host;
    std::string run_id;
    std::string unreadable;                      // why it could not be read; empty when it was
    RunStatus status;                            // when readable
    std::map<std::string, std::string> diffstat; // agent -> `git diff --stat` text, capped
    std::map<std::string, std::string> log_tail; // agent -> its log's last lines, capped
};

// A log's last k_tail_lines lines, at most k_max_tail_bytes (the end kept); a diffstat at most
// k_max_diffstat_bytes (a longer one is left out).
constexpr size_t k_tail_lines = 20;
constexpr size_t k_max_tail_bytes = 8192;
constexpr size_t k_max_diffstat_bytes = 16384;
// A run's line, and a fetched file of lines.
constexpr size_t k_max_line = size_t{1} << 20;
constexpr size_t k_max_fetched_file = size_t{64} << 20;
// How deep a --from directory is walked: SSM's layout is four levels below it.
constexpr int k_max_depth = 6;
// A run with more agents is unreadable; a file with more runs is read that far.
constexpr size_t k_max_agents = 256;
constexpr size_t k_max_file_runs = 100000;

// --since and --label: a run is kept when it started at or after `since` and has every label.
// An unreadable run is kept when its id's time is at or after `since`, or it has no id (it has
// no labels to match: what cannot be read is shown, not filtered away).
struct FleetFilter {
    std::optional<WallTime> since;
    Labels labels;
};

bool keep_run(const FleetRun& run, const FleetFilter& filter);

// This host's runs, newest first; a run that cannot be read is an unreadable run. An Error only
// when the runs directory cannot be listed.
Result<std::vector<FleetRun>> read_host_runs(const std::string& runs_dir, const std::string& host,
                                             const FleetFilter& filter);

// The runs fetched into `dir` (docs/watching-a-fleet.md, "Layouts"):
//   DIR/HOST/runs.jsonl                          the Ansible playbook's (report --json)
//   DIR/COMMAND-ID/INSTANCE-ID/PLUGIN/STEP/stdout  an `aws s3 sync` of SSM's output
//   DIR/HOST/RUN-ID/status.json                  run directories copied whole (rsync, scp -r)
// A runs.jsonl's host is its directory's name; a stdout's the first directory named like an
// instance id (i-… or mi-…), else its step's. `warnings` gets a line for each file or
// directory passed over (a link, too large, unreadable). An Error only when `dir` itself
// cannot be opened.
Result<std::vector<FleetRun>> read_fetched_runs(const std::string& dir, const FleetFilter& filter,
                                                std::vector<std::string>& warnings);

// Newest first (by run id), then by host, one run per host and id (a readable one when there
// is one): the order every read above returns.
void newest_first(std::vector<FleetRun>& runs);

// The line `report --json` prints for a run (no newline), and the run a line reads as: a line
// that is not one (cut short, the wrong types) is a run of `host` marked unreadable, with the
// run id when that much could be read.
std::string to_json_line(const FleetRun& run);
FleetRun run_from_json_line(std::string_view line, const std::string& host);

} // namespace fleet
