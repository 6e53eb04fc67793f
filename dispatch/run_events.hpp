// A run's two events in the host's log (docs/dispatch.md, "Run events"): one when it starts,
// one when it ends, as fleet-dispatch, facility daemon (base/system_log.hpp: journald's native
// socket with FLEET_* fields where there is one, else /dev/log with the same message), so that
// `journalctl -t fleet-dispatch`, every log shipper and `journalctl FLEET_RUN_ID=…
// FLEET_OUTCOME=failed` see runs without reading run directories.
//
// Who writes them: the runner, which knows the run (attached or detached), right after its
// run directory exists and once the run's status is final; for an attached run whose runner
// ended without its end event (killed by a signal: SSM's timeout, the OOM killer, `kill -9`),
// the caller's process, which waits for it anyway (runner_process.hpp, relay), writes the end
// as `lost` from status.json. Both are the user by then; the sockets are the world's.
// A detached runner killed by SIGKILL has no one left to say so: its start has no end, and
// `dispatch status` says lost.
//
// What a log gets is the caller's: escaped, cut, never a newline (system_log.hpp). Sending
// never fails a run: what could not be sent is runner.log's line, nothing more.
#pragma once

#include <string>
#include <sys/types.h>

#include "base/system_log.hpp"
#include "dispatch/config.hpp"
#include "runner/status.hpp"

namespace fleet {

constexpr const char* k_log_ident = "fleet-dispatch";

// What an event says besides the run's status.
struct RunEventContext {
    std::string task;
    std::string user;
    std::string reason; // end only: why, when the runner could not say ("runner killed by …")
};

// "run ID start task=T agents=A,B user=U label.K=V…", severity info; fields FLEET_EVENT=start,
// FLEET_RUN_ID, FLEET_TASK, FLEET_USER, FLEET_AGENTS, FLEET_LABELS.
LogEvent run_start_event(const RunStatus& status, const RunEventContext& context);

// "run ID end outcome=S exit=N duration=12.3s agents=A:succeeded,B:failed task=T user=U
// [reason=…] label.K=V…"; severity info (succeeded), notice (cancelled), warning (failed,
// timed_out), err (lost: the runner itself did not finish); fields FLEET_EVENT=end,
// FLEET_RUN_ID, FLEET_OUTCOME, FLEET_EXIT_CODE, FLEET_DURATION_SECONDS, FLEET_TASK, FLEET_USER,
// FLEET_AGENTS, FLEET_AGENT_STATES, FLEET_REASON (when there is one), FLEET_LABELS.
// The duration runs from started_at to finished_at (to `now` when it has none).
LogEvent run_end_event(const RunStatus& status, const RunEventContext& context, WallTime now);

// Sends `event` unless `mode` is off, as `pid` (the writer's, as the host sees it:
// SYSLOG_PID): "" once it reached a log (or it is off), else why not ("/dev/log: No such file
// or directory"), for runner.log.
std::string emit_run_event(RunEventsMode mode, const LogEvent& event, pid_t pid);

} // namespace fleet
