// Starting one agent process. The only place Boost.Process is used (docs/design/boost-process.md):
// a Boost upgrade that changes its API (1.86 compiled library, 1.88 v2 by default) is a one-file
// change.
//
// Parent, before fork: the caller resolved the executable (no PATH search happens here) and
// built the environment. Child, in on_exec_setup: the one child setup (sys/child.hpp), each
// step checked, any failure aborting the launch and reported, step and errno, through our own
// error pipe (Boost's carries the errno alone):
//   a new session (own process group, so TERM/KILL reach the whole group; no controlling
//   terminal, so an agent of a run started from a root shell cannot open /dev/tty and push
//   keystrokes into root's terminal, CVE-2016-2779); then the agent's own steps (the hook):
//   its cgroups joined ("0" into each of `cgroup_fds`, root-opened cgroup.procs fds:
//   runner/run_cgroups.hpp), then its Landlock domain when it has one (`landlock_fd`:
//   no_new_privs, then landlock_restrict_self, sys/landlock.hpp; so that the steps below and
//   the exec are confined);
//   PR_SET_PDEATHSIG with the parent check (dispatch gone in between: the child exits
//   instead of running unsupervised); stdin from `stdin_fd`, stdout and stderr onto the one
//   `output_fd` (order kept); chdir(workdir); signals reset (dispatch blocks and ignores
//   some); every fd >= 3 close-on-exec (Boost 1.81 leaves gaps open, pitfall 1).
// Boost 1.81 never calls a user on_exec_error and then ::exit()s in the child (pitfalls 2, 3):
// our on_exec_error has both signatures and _exit()s with 127 (or 126 for EACCES), so no
// atexit handler or stdio buffer of dispatch runs twice.
// The returned process is detached: supervision reaps it with waitpid (dispatch is a child
// subreaper), and Boost's destructor must not SIGKILL it (pitfall 6).
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "sys/result.hpp"

namespace fleet {

struct SpawnRequest {
    std::string executable;        // absolute path
    std::vector<std::string> args; // after argv[0], which is `executable`
    std::vector<std::string> env;  // "NAME=VALUE"
    std::string workdir;
    int stdin_fd = -1;  // becomes fd 0
    int output_fd = -1; // becomes fds 1 and 2
    int death_signal = 0;
    int landlock_fd = -1; // a ruleset (sys/landlock.hpp) the child enters before exec; -1: none
    std::vector<int> cgroup_fds; // cgroup.procs fds the child joins before exec
};

// The agent's own steps in a child between fork and exec (the ChildSetup hook): its cgroups
// joined, then its Landlock domain entered; 0 or the errno. Also the confinement of the git
// that runs in its clone after it (agent_repo.hpp). Everything it points to is prepared before
// fork; it allocates nothing.
struct AgentSteps {
    const int* cgroup_fds = nullptr;
    size_t cgroup_count = 0;
    int landlock_fd = -1; // -1: none
};
int enter_agent_steps(const void* steps);

// Forks and execs; returns the pid once exec succeeded, or the error that stopped it.
Result<pid_t> spawn(boost::asio::io_context& context, const SpawnRequest& request);

} // namespace fleet
