// Running a short command to its end, bounded in time and output: `dispatch agents` asks each
// agent CLI for --version this way, `dispatch doctor` asks sudo and systemctl, and fleet-helper
// runs systemctl and apt-get.
//
//   pipe2(O_CLOEXEC); spawn_process (sys/child.hpp) with the one child setup:
//   child:  a new session (own process group, no controlling tty); as a user if asked (the
//           hook: the drop of credentials.hpp with no_new_privs, then its verification: root
//           never runs a program the user could have replaced), then the caller's confinement
//           if given; stdin /dev/null or a given fd; stdout and stderr on the pipe (or stdout
//           on a given fd); cwd if asked (after the drop, so it is entered as
//           the user); signals reset; fds > 2 close-on-exec; execve. A failed step, exec
//           included, is an Error naming it
//   parent: read the pipe (output beyond the cap is read and dropped, so the child never
//           blocks on a full pipe); waitid(WNOWAIT) for the child's exit at least every
//           50 ms, and every 1, 2, 4... ms once the output has closed
//   exit:   kill(-pgid, SIGKILL) sweeps anything the command left in its group while the
//           unreaped leader still holds the group id, then waitpid (wait_status.hpp); no
//           status from waitpid is a failure, never exit 0
//   timeout: kill(-pgid, SIGTERM); after `grace`, kill(-pgid, SIGKILL); waitpid
//
// Single-threaded callers only (fork without exec-safe restrictions).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "launch/identity.hpp"
#include "sys/child.hpp"
#include "sys/result.hpp"
#include "sys/wait_status.hpp"

namespace fleet {

// The environment root's probes of system tools get (systemctl, sudo, busctl): the system's
// directories alone, whatever PATH the caller had.
constexpr const char* k_system_path =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct ProbeLimits {
    std::chrono::milliseconds timeout{5000};
    std::chrono::milliseconds grace{0}; // between TERM and KILL at the deadline
    size_t max_output = size_t{64} * 1024;
    int stdin_fd = -1;   // the command's stdin; -1: /dev/null
    std::string workdir; // the command's cwd; empty: the caller's
    // Run as this user (root callers only): dropped with no_new_privs and verified in the
    // child before exec. nullptr: as the caller.
    const Identity* as_user = nullptr;
    // A step of the caller's in the child, after the drop (the confinement of an agent's git,
    // runner/agent_repo.hpp); returns 0 or the errno that stops the child. nullptr: none.
    ChildHook confine = nullptr;
    const void* confine_context = nullptr;
    // The command's stdout onto this fd (a file the caller opened); `output` then holds what
    // it wrote to stderr alone. -1: stdout and stderr both on the pipe.
    int stdout_fd = -1;
};

struct ProbeResult {
    std::string output;     // stdout and stderr as written, up to ProbeLimits::max_output
    bool truncated = false; // more output was written and dropped
    bool timed_out = false; // the deadline passed; the group was killed
    ExitStatus status;      // how it ended (no status: waitpid failed)

    // Finished in time with exit 0: the only success.
    bool succeeded() const { return !timed_out && status.succeeded(); }
    // status.shell_code(): 128 + N when killed by signal N, -1 without a status.
    int exit_code() const { return status.shell_code(); }
};

// Runs `argv` (argv[0] an absolute path, or a name looked up in PATH from `env`) to its end or
// its deadline. An Error only when it could not be started.
Result<ProbeResult> run_bounded(const std::vector<std::string>& argv,
                                const std::vector<std::string>& env, const ProbeLimits& limits);

// run_bounded with a plain timeout; a timeout is an Error ("no answer within N ms").
Result<ProbeResult> probe_output(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env,
                                 std::chrono::milliseconds timeout);

// The first line of `text` that is not blank, from its first non-blank character to its line
// end (\r or \n); "" when there is none.
std::string first_line_of(const std::string& text);

// The first non-empty output line of `argv` (argv[0] an absolute path), or an Error when it
// could not start, timed out, did not exit 0 or printed nothing. `limits` as run_bounded's.
Result<std::string> probe_first_line(const std::vector<std::string>& argv,
                                     const std::vector<std::string>& env,
                                     const ProbeLimits& limits);

} // namespace fleet
