// Running a short command for its first line of output, bounded in time: `dispatch agents`
// asks each agent CLI for --version this way. The child gets its own process group, stdin
// /dev/null, stdout and stderr on one pipe, reset signals and no inherited fds; at the deadline
// the group is killed. Single-threaded callers only (fork without exec-safe restrictions).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "result.hpp"

namespace fleet {

struct ProbeResult {
    std::string output; // stdout and stderr as written, up to 64 KiB
    int exit_code = -1; // 128 + N when killed by signal N
};

// Runs `argv` (argv[0] an absolute path, or a name looked up in PATH from `env`) to its end, or
// an Error when it could not start or did not end within `timeout`.
Result<ProbeResult> probe_output(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env,
                                 std::chrono::milliseconds timeout);

// The first non-empty output line of `argv` (argv[0] an absolute path), or an Error when it
// could not start, timed out, exited non-zero or printed nothing.
Result<std::string> probe_first_line(const std::vector<std::string>& argv,
                                     const std::vector<std::string>& env,
                                     std::chrono::milliseconds timeout);

} // namespace fleet
