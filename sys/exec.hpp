// The last steps before exec: process hygiene and the exec itself.
//
//   reset_signals        sigprocmask(SIG_SETMASK, empty) then sigaction(SIG_DFL) for every
//                        catchable signal: a blocked SIGTERM or an ignored SIGPIPE inherited
//                        from the caller (SSM, nohup, a runner) would otherwise reach the agent.
//   close_fds_from       the same walk, closing: for a process that goes on without an exec.
//   mark_fds_cloexec     close_range(first, ~0U, CLOSE_RANGE_CLOEXEC) (Linux >= 5.11); on ENOSYS
//                        or EINVAL walks /proc/self/fd and sets FD_CLOEXEC one by one. Marks
//                        rather than closes, so an exec failure can still be reported on
//                        stderr and the fds the library itself holds stay valid until exec.
//   stdio_is_terminal    isatty() on fds 0, 1, 2.
//   has_controlling_terminal
//                        open("/dev/tty") succeeds: the process has a controlling terminal,
//                        whatever fds 0-2 are (ENXIO: it has none). Any other failure counts as
//                        having one, so the caller detaches (fails closed).
//   start_new_session    setsid(), checked: EPERM when the caller leads a process group; the
//                        caller must then fork first (fleet-launch does). After it the process
//                        has no controlling terminal, so TIOCSTI into the caller's terminal
//                        fails with EPERM (CVE-2016-2779).
//   exec_command         searches PATH taken from the *new* environment (execvpe(3) would use
//                        the caller's), then execve. Returns only on failure. No shell is ever
//                        involved: ENOEXEC is reported, not retried under /bin/sh.
#pragma once

#include <cerrno>
#include <string>
#include <vector>

#include "sys/result.hpp"

namespace fleet {

Status reset_signals();

Status mark_fds_cloexec(int first_fd);

// Closes every fd >= first_fd: close_range(first_fd, ~0U, 0), or, where the kernel lacks it
// (before 5.9), each fd /proc/self/fd lists.
Status close_fds_from(int first_fd);

bool stdio_is_terminal();

bool has_controlling_terminal();

Status start_new_session();

// Why exec_command failed, mapped to the usual shell codes.
struct ExecFailure {
    int exit_code = 127; // 126 found but not executable, 127 not found, 111 anything else
    std::string message; // one line naming the command and the error
    int error = ENOENT;  // the errno that decided it
};

// The entries of a PATH value; an empty entry means "." as POSIX says.
std::vector<std::string> path_entries(const std::string& path);

// The first "<dir>/<name>" in `path` that is a regular file executable by the caller (access
// X_OK); empty when there is none. `name` must not contain '/'.
std::string find_in_path(const std::string& name, const std::string& path);

// `argv[0]` is looked up in PATH from `envp` unless it contains '/'. Never returns on success.
ExecFailure exec_command(const std::vector<std::string>& argv,
                         const std::vector<std::string>& envp);

} // namespace fleet
