// `dispatch report` (docs/watching-a-fleet.md): the runs of this host, or with --from DIR... of
// runs fetched from many hosts, as one self-contained HTML page (fleet_html.hpp) or, with
// --json, as a line of JSON per run (fleet_runs.hpp), the lines --from reads back. --since DUR
// keeps runs started within DUR, --label KEY=VALUE those with every label. It runs as the
// target user, like every reader (session.hpp): a --from directory must be readable by it;
// relative paths are the caller's (cli.cpp makes them absolute before the drop).
// Written to stdout, or with -o FILE atomically (0644, the old file or the new, never half).
//
// Exit codes: 0 written (unreadable runs are in it, marked); 2 a --from directory that cannot
// be opened; 3 the runs directory cannot be listed, or FILE cannot be written.
//
// Tested end to end (tests/integration/dispatch_report.cpp: a generated fleet, hostile input, a
// real browser); what it reads and writes has unit tests (fleet_runs_test, fleet_html_test).
#pragma once

#include "dispatch/cli.hpp"
#include "dispatch/session.hpp"

namespace fleet {

int write_report(const ReportArgs& args, const Session& session);

} // namespace fleet
