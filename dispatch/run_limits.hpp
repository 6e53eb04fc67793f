// A run's limits, from the config to the cgroups its agents start in (docs/dispatch.md,
// "Limits"); the cgroups themselves are runner/run_cgroups.hpp's.
//
// As root, in the caller's process, before the run splits (setup_run_limits), each step
// checked:
//   1. limits = "off": nothing. Not root: "not root" (no cgroup can be made)
//   2. systemd as PID 1 (/run/systemd/system): a run's cgroups come from a transient scope of
//      its own, never from the cgroup of the unit that started dispatch (SSM's), which is
//      systemd's to manage: `busctl call … StartTransientUnit fleet-dispatch-NAME.scope` with
//      PIDs = this process, Delegate=yes and TasksMax=infinity (the run's pids_max bounds it;
//      /usr/bin/busctl, a fixed argv and PATH, 10 s); the job runs after the call returns, so
//      /proc/self/cgroup is polled (10 ms, 10 s at most) until this process is in the scope in
//      systemd's hierarchy and in memory and pids (systemd moves it one after the other; a
//      controller it does not manage, pids under systemd 219, never moves: a second after
//      systemd's own hierarchy, what has moved is it); then, v2, this process moves to the scope's
//      leaf "caller" (a delegated cgroup holds processes only in leaves) and the run's tree
//      is made beneath the scope. systemd removes the scope once its last process is gone
//   3. the layout (sys/cgroup.hpp), MemTotal for the default run memory_max
//   4. pipe2(O_CLOEXEC): the keeper's life line, its write end the runner's alone
//   5. create_run_cgroups, named run-<pid>-<8 random hex digits>
// A failure in 2 to 5 is recorded (status.json `limits.reason`, the summary) and the run goes
// on without cgroups; with limits = "required" it is the run's setup error (exit 3), before
// anything is forked.
// Then, once the runner is forked (runner_process.hpp):
//   the runner (inner), still root: enter_run_limits: its oom_score_adj (the config's, default
//   500) into /proc/self/oom_score_adj, which every agent inherits (an agent, dropped and not
//   dumpable before its exec, could not write its own; root's write also sets the floor
//   below which an agent cannot lower it where root has CAP_SYS_RESOURCE)
//   the caller (outer): start_keeper with the runner's pid and start time, then closes its
//   copy of every cgroup fd and of the life line's write end, so that only the runner holds
//   it
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dispatch/config.hpp"
#include "runner/run_cgroups.hpp"
#include "runner/status.hpp"
#include "sys/fd.hpp"
#include "sys/result.hpp"

namespace fleet {

struct RunLimitsSetup {
    int oom_score_adj = 0;             // the runner's and the agents'
    RunLimits record;                  // what status.json says
    std::optional<RunCgroups> cgroups; // none when not applied
    Fd life_read, life_write;          // the keeper's life line
};

// Steps 1 to 5 for `agents`. An Error only when limits = "required" and they cannot be had.
Result<RunLimitsSetup> setup_run_limits(const Config& config,
                                        const std::vector<std::string>& agents, bool as_root);

// In the caller, still root, when the run stops before its keeper is forked: removes the
// cgroups made (nothing ran in them).
void discard_run_limits(RunLimitsSetup& limits);

// In the runner, still root: its oom_score_adj; closes the life line's read end.
Status enter_run_limits(RunLimitsSetup& limits);

// In the caller, still root, after the runner (`runner`, its pid here) is forked: forks the
// keeper (run_cgroups.hpp keep_run_cgroups), its stdio on /dev/null and every other fd closed,
// then closes this process's cgroup fds and life line. Without cgroups: nothing.
Status start_keeper(RunLimitsSetup& limits, pid_t runner);

// MemTotal of /proc/meminfo in bytes; 0 when unreadable.
uint64_t mem_total();

} // namespace fleet
