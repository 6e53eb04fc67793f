// The one place a wait status is decoded. Exit code and signal stay apart; only the CLI summary
// folds a signal into 128+N (Boost.Process's evaluate_exit_code loses the difference).
#pragma once

#include <string>

namespace fleet {

struct ExitStatus {
    bool exited = false; // true: `code` is valid; false: killed by `signal`
    int code = 0;
    int signal = 0;
    bool core_dumped = false;
};

ExitStatus decode_wait_status(int status);

// "exit 3", "signal 15 (SIGTERM)", "signal 11 (SIGSEGV, core dumped)".
std::string describe(const ExitStatus& status);

} // namespace fleet
