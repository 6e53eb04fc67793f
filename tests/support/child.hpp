// Runs a check in a forked child, for unit tests that change process-wide state (credentials,
// signal dispositions, sessions) which must not leak into the test runner.
#pragma once

#include <functional>
#include <sys/wait.h>
#include <unistd.h>

namespace fleet::test {

// The child runs `body` and _exits with its return value; returns that value (or 200 + signal).
inline int in_child(const std::function<int()>& body) {
    const pid_t pid = fork();
    if (pid == 0) {
        _exit(body());
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

} // namespace fleet::test
