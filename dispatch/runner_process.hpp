// The run's own PID namespace, its runner the namespace's init (docs/dispatch.md, "What an
// agent can and cannot do"). `dispatch run` splits in two before the drop: the inner process
// is the runner and everything it starts lives in a new PID namespace of which it is PID 1, so
//   - nothing inside can SIGKILL or SIGSTOP it (the kernel drops such signals to a namespace's
//     init from inside, and only delivers the ones it handles), and
//   - when it ends, for whatever reason (SSM's SIGKILL of the group included), the kernel kills
//     every process left in the namespace: no agent and no escaped grandchild survives a run;
// and the outer process, which stays the caller's, drops too and only relays: signals in, the
// exit code (or, detached, the run id) out.
//
// As root, single-threaded, before the drop (start_runner), each call checked:
//   1. pipe2(O_CLOEXEC): the inner's reports to the outer ('N' namespace up, 'F' why not,
//      'R' run id: detached and registered)
//   2. open /proc/self/ns/pid; unshare(CLONE_NEWPID): EPERM, EINVAL, ENOSPC (not root, a
//      container without the capability, a kernel without namespaces) leave no namespace
//   3. fork (glibc's: its thread state stays right): the child is PID 1 of the new namespace;
//      the outer's setns(saved fd, CLONE_NEWPID) puts its own later children back outside
//   Inner, in the namespace, still root:
//   4. unshare(CLONE_NEWNS); mount(MS_REC | MS_SLAVE) on /: its mounts stay its own, the host's
//      still come in
//   5. mount proc on /proc (nosuid, nodev, noexec): /proc shows this namespace, so the pids the
//      runner gets from fork and reads in /proc/PID agree (the host's /proc would name other
//      processes). A failure (a container's masked /proc refuses it) is reported 'F' and the
//      inner exits; the outer starts a plain child instead (no namespace, recorded)
//  5b. an empty tmpfs on /run/user and /run/screen and a new devpts instance on /dev/pts (with
//      /dev/ptmx bound to its ptmx): the user's sockets there and the operator's terminal are
//      out of the agents' reach (runner_process.cpp hide_user_endpoints says why)
//   6. its pid as the host sees it (NSpid of /proc/self/status, read before 5): status.json's
//      `pid`, which `status`, `cancel` and lost-run detection use from outside
//   Outer:
//   7. with a namespace, waits for 'N' or 'F' (still root, so that a fallback can still
//      start the plain child), then drops to the target and verifies it (session.hpp)
//   8. forwards SIGTERM, SIGINT and SIGHUP to the inner; reads the pipe until EOF ('R': prints
//      "run-id: ID" and exits 0; 'S': an attached run has started, its id, task and console
//      mode; 'E': its end is logged), then waits for the inner and exits with its code (a
//      runner killed by a signal: exit 3 with a line saying so, never 128 + N, which SSM
//      reads). A run that started and whose end the runner did not log (killed, or an
//      internal error) gets it from here: status.json read back as the user (it reads lost),
//      its end event (run_events.hpp) with the reason, and the console's last line, the
//      result line (summary.hpp; the status object with --json; nothing with --console none)
// Detached, the inner leads a session of its own (setsid) so that SSM's kill of the caller's
// group does not reach it; otherwise, after its drop, it asks for SIGTERM when the outer dies
// (runner_attached), so a killed caller cancels the run instead of orphaning it.
// Not root: no namespace can be made (recorded: "not root"); the split is the same.
//
// Tested end to end (tests/integration/confine_test.cpp: an agent's SIGKILL and SIGSTOP of its
// runner, escapes that die with the namespace; dispatch_test.cpp and operate_test.cpp: the
// runner killed, --detach, cancel, wait, lost): every step needs root and real processes.
#pragma once

#include <string>
#include <sys/types.h>

#include "dispatch/run_limits.hpp"
#include "dispatch/session.hpp"
#include "sys/fd.hpp"
#include "sys/result.hpp"

namespace fleet {

enum class Detach { no, yes };

struct RunnerProcess {
    bool pid_namespace = false;
    std::string no_namespace; // why there is none, when there is none
    pid_t host_pid = 0;       // the runner's pid outside its namespace
    Fd to_outer;              // the report pipe's write end
    Detach detach = Detach::no;
    RunLimitsSetup limits; // the run's cgroups (run_limits.hpp), the runner's from here on
};

// Returns in the inner process only; the outer exits from here. `required`: a run without a
// PID namespace is refused (exit 3) instead of recorded. `limits`: made by setup_run_limits;
// the inner joins its leaf, the outer starts the keeper before its drop. Errors (exit 3) come
// before any fork or from the inner's own setup.
Result<RunnerProcess> start_runner(Session& session, Detach detach, bool required,
                                   RunLimitsSetup limits);

// In the inner, after its drop: an attached runner is sent SIGTERM when the outer goes, and
// exits now if it has gone already.
Status runner_attached(const RunnerProcess& runner);

// As root: whether a run could get its namespace here (steps 2 to 5 in a throwaway child);
// "" when it could, else why not. For doctor.
std::string probe_run_namespace();

// Attached, once the run's start is logged: tells the outer its id, task and console mode
// ("full", "summary", "none", "json"), step 8's 'S'. Detached: nothing (the outer is gone).
void runner_run_started(const RunnerProcess& runner, const std::string& run_id,
                        const std::string& task, const std::string& console);

// Attached, once the run's end is logged: step 8's 'E'. Detached: nothing.
void runner_run_ended(const RunnerProcess& runner);

// The run is registered (status.json names it): detached, stdin, stdout and stderr go onto
// /dev/null and the outer prints the run id and exits 0. Attached: nothing.
void runner_registered(RunnerProcess& runner, const std::string& run_id);

} // namespace fleet
