// Running a real process from a test: argv only (no shell), exact environment, captured output.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace fleet::test {

struct RunOptions {
    // The child's environment; inherits the test's when unset.
    std::optional<std::vector<std::string>> env;
    // Written to the child's stdin, then closed; stdin is /dev/null when unset.
    std::optional<std::string> input;
    // Fds the child inherits without close-on-exec, dup2'd from `keep_fds[i].first` (an open
    // fd in the test) to `keep_fds[i].second` (the number the child sees).
    std::vector<std::pair<int, int>> keep_fds;
    // Working directory of the child; when empty, a scratch directory of the test process
    // (root's, 0755, removed at exit), never the test's own cwd.
    std::string cwd;
    // Killed with SIGKILL after this many seconds.
    int timeout_seconds = 60;
};

struct ProcessResult {
    pid_t pid = 0;
    int exit_code = -1; // -1 when killed by a signal
    int signal = 0;
    std::string out;
    std::string err;
};

// A started process whose output is still being produced.
struct Started {
    pid_t pid = 0;
    int out_fd = -1;
    int err_fd = -1;
    int timeout_seconds = 60;
};

// Starts a process; finish() collects it. Throws std::runtime_error when it cannot start.
Started start(const std::vector<std::string>& argv, const RunOptions& options = {});

// Reads stdout and stderr to EOF (SIGKILL after the timeout) and reaps the process.
// `on_output`, if set, sees stdout as it grows (e.g. to wait for a line before signalling).
ProcessResult finish(Started& started,
                     const std::function<void(const std::string& out)>& on_output = {});

ProcessResult run(const std::vector<std::string>& argv, const RunOptions& options = {});

// Convenience: argv is split on single spaces (test-written literals only).
ProcessResult run_words(const std::string& words, const RunOptions& options = {});

// Throws std::runtime_error with the command's output unless it exits 0.
std::string run_ok(const std::vector<std::string>& argv, const RunOptions& options = {});

} // namespace fleet::test
