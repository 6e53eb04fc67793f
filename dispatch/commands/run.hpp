// `dispatch TASK PROMPT…`: validate, create the run, supervise it, print the summary.
//
// Order, in the runner (runner_process.hpp: the inner process, in the run's PID namespace),
// after the session (session.hpp) read the agents' secrets and dropped root:
//   task and agents known, prompt read (a file as the user) and not empty ........ else 2
//   every agent with confine = "required" can be fully confined here ............. else 3
//   runs directory (mkdir -p as the user), run directory, lock, prompt.txt, run.json .. else 3
//   "run-id: <ID>" as the first stdout line; the start event (run_events.hpp); the agents'
//   output; the end event; then the summary and its result line, the last line (summary.hpp;
//   one JSON object with --json). Returns the run's exit code.
//
// Tested end to end (tests/integration/dispatch_*.cpp, agents_test.cpp, ssm_test.cpp): a run
// is a privilege drop, fake agent CLIs and the console; the supervisor has its own unit test.
#pragma once

#include <string>

#include "dispatch/cli.hpp"
#include "dispatch/runner_process.hpp"
#include "dispatch/session.hpp"
#include "runner/run_store.hpp"
#include "runner/status.hpp"

namespace fleet {

// The agents a command line asks for: -a, else the program name's agent, else the unified set
// (config `unified`, default every built-in), else default_agent. Unknown names are an error.
Result<std::vector<std::string>> choose_agents(const RunArgs& args, const Config& config);

// Whether any of `agents` has confine = "required" (the run's PID namespace is then required).
bool confinement_required(const Config& config, const std::vector<std::string>& agents);

int run_dispatch(const RunArgs& args, Session& session, const std::vector<std::string>& agents,
                 RunnerProcess& runner);

} // namespace fleet
