// The one place a wait status is decoded, and the one way a child is waited for. Exit code and
// signal stay apart; only a caller that must hand on a shell-style code folds a signal into
// 128+N (Boost.Process's evaluate_exit_code loses the difference). No status at all (waitpid
// failed) is its own case, and never a success.
#pragma once

#include <string>
#include <sys/types.h>

#include "sys/result.hpp"

namespace fleet {

struct ExitStatus {
    bool exited = false; // true: `code` is valid; false: killed by `signal`, or unknown (0)
    int code = 0;
    int signal = 0;
    bool core_dumped = false;

    // Exited with 0: the only success.
    bool succeeded() const { return exited && code == 0; }
    // The code a shell would show: `code`, 128 + `signal`, or -1 when there is no status.
    int shell_code() const { return exited ? code : signal != 0 ? 128 + signal : -1; }
};

ExitStatus decode_wait_status(int status);

// waitpid(pid, 0), retrying EINTR. An Error (system) when there is no status to be had
// (ECHILD: reaped elsewhere or not our child).
Result<ExitStatus> wait_for_exit(pid_t pid);

// "exit 3", "signal 15 (SIGTERM)", "signal 11 (SIGSEGV, core dumped)", "no exit status".
std::string describe(const ExitStatus& status);

} // namespace fleet
