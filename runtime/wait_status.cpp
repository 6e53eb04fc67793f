#include "wait_status.hpp"

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

std::string describe(const ExitStatus& status) {
    if (status.exited) {
        return "exit " + std::to_string(status.code);
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
