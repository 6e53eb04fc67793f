// Operating runs that outlive the channel that started them (SSM kills its commands after an
// hour): wait for one, cancel one, prune old ones. All run as the target user (session.hpp).
//
//   wait RUN_ID [--timeout DUR]   polls status.json (200 ms) until the run is no longer running;
//                                 exits with the run's exit code; a lost run exits 1; when the
//                                 wait itself times out, 124 and a line saying the run goes on.
//   cancel RUN_ID [--agent NAME]  finds the runner from status.json and verifies it before any
//                                 signal: the pid's start time (/proc/PID/stat) must equal the
//                                 recorded one and the run lock must be held, so a reused pid is
//                                 never hit. The run: SIGTERM (the runner cancels every agent).
//                                 One agent: a "cancel-NAME" request file, then SIGUSR1. Waits
//                                 (grace + 10 s at most) and prints the resulting state. A
//                                 finished run is a no-op message, exit 0; a runner that cannot
//                                 be verified is refused, exit 1, nothing signalled.
//   prune [--older-than DUR] [--keep N] [--dry-run]
//                                 removes finished runs' directories (never a running one): all
//                                 but the newest N finished runs, and of those only the ones
//                                 started longer ago than DUR when it is given. Prints each.
//                                 With neither, DUR is the config's prune_older_than (the prune
//                                 timer's command line); unset, it says so, removes nothing and
//                                 exits 0.
//
// Tested end to end (tests/integration/operate_*.cpp), against real runs and their runners;
// the run store and status have unit tests of their own.
#pragma once

#include "dispatch/cli.hpp"
#include "dispatch/session.hpp"

namespace fleet {

int wait_run(const WaitArgs& args, const Session& session);
int cancel_run(const CancelArgs& args, const Session& session);
int prune_runs(const PruneArgs& args, const Session& session);

} // namespace fleet
