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

// The first non-empty output line of `argv` (argv[0] an absolute path), or an Error when it
// could not start, timed out or exited non-zero with no output.
Result<std::string> probe_first_line(const std::vector<std::string>& argv,
                                     const std::vector<std::string>& env,
                                     std::chrono::milliseconds timeout);

} // namespace fleet
