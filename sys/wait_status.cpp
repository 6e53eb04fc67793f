#include "sys/wait_status.hpp"

#include <cerrno>
#include <cstring>
#include <sys/wait.h>

namespace fleet {

ExitStatus decode_wait_status(int status) {
    ExitStatus result;
    if (WIFEXITED(status)) {
        result.exited = true;
        result.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.signal = WTERMSIG(status);
        result.core_dumped = WCOREDUMP(status);
    }
    return result;
}

Result<ExitStatus> wait_for_exit(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return system_error("waitpid " + std::to_string(pid), errno);
        }
    }
    return decode_wait_status(status);
}

std::string describe(const ExitStatus& status) {
    if (status.exited) {
        return "exit " + std::to_string(status.code);
    }
    if (status.signal == 0) {
        return "no exit status";
    }
    const char* name = sigabbrev_np(status.signal);
    std::string text = "signal " + std::to_string(status.signal) + " (" +
                       (name != nullptr ? std::string("SIG") + name : "?");
    if (status.core_dumped) {
        text += ", core dumped";
    }
    return text + ")";
}

} // namespace fleet
