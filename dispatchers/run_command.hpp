// `dispatch TASK PROMPT…`: validate, create the run, supervise it, print the summary.
//
// Order, after become_target (session.hpp) dropped root:
//   task and agents known, prompt read (a file as the user) and not empty ........ else 2
//   runs directory (mkdir -p as the user), run directory, lock, prompt.txt, run.json .. else 3
//   "run-id: <ID>" as the first stdout line, then the agents' output, then the summary
//   (a few lines, or one JSON object with --json). Returns the run's exit code.
#pragma once

#include <string>

#include "cli.hpp"
#include "run_store.hpp"
#include "session.hpp"
#include "status.hpp"

namespace fleet {

int run_dispatch(const CommandLine& line, Session& session);

// The human summary printed at the end of a run.
std::string summary_text(const RunStatus& status);

} // namespace fleet
