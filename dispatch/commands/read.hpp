// Reading runs back: `list`, `status RUN_ID`, `logs RUN_ID [--agent NAME] [-f] [--tail N]`.
// logs -f prints what is there, then what arrives (polling every 200 ms), and ends once the run
// is no longer running and the logs are drained; with several agents their lines interleave as
// they arrive, each with "[agent] " before it. --tail N starts each log at its last N lines. They
// run as the target user too (session.hpp), open every file with O_NOFOLLOW, and check a RUN_ID's
// shape before it becomes a path, so `status ../../etc` or a planted symlink read nothing.
//
// Tested end to end (tests/integration/dispatch_files.cpp, operate_*.cpp); the run store and
// the log follower they use have unit tests of their own.
#pragma once

#include "dispatch/cli.hpp"
#include "dispatch/session.hpp"

namespace fleet {

int list_runs(const ListArgs& args, const Session& session);
int show_status(const StatusArgs& args, const Session& session);
int print_logs(const LogsArgs& args, const Session& session);
// diff RUN_ID [--agent NAME] [--stat]: an agent's patch against its base (<agent>.diff), or each
// agent's counts and diffstat; the agents' text escaped on a terminal like the logs'.
int print_diff(const DiffArgs& args, const Session& session);

} // namespace fleet
