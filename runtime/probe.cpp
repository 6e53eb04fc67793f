#include "probe.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.hpp"
#include "fd.hpp"

namespace fleet {

namespace {

constexpr size_t k_max_probe_output = size_t{64} * 1024;

} // namespace

Result<ProbeResult> probe_output(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env,
                                 std::chrono::milliseconds timeout) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return system_error("pipe2", errno);
    }
    Fd read_end(fds[0]);
    Fd write_end(fds[1]);
    const pid_t pid = ::fork();
    if (pid < 0) {
        return system_error("fork", errno);
    }
    if (pid == 0) {
        const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (::setpgid(0, 0) != 0 || null < 0 || ::dup2(null, 0) < 0 ||
            ::dup2(write_end.get(), 1) < 0 || ::dup2(write_end.get(), 2) < 0 || !reset_signals() ||
            !mark_fds_cloexec(3)) {
            ::_exit(127);
        }
        const ExecFailure failure = exec_command(argv, env);
        ::_exit(failure.exit_code);
    }
    write_end.reset();
    ProbeResult result;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool timed_out = false;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        pollfd entry{read_end.get(), POLLIN, 0};
        const int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            timed_out = ready == 0;
            break;
        }
        char buffer[4096];
        const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
        if (n <= 0) {
            break;
        }
        if (result.output.size() < k_max_probe_output) {
            result.output.append(buffer, static_cast<size_t>(n));
        }
    }
    if (timed_out) {
        ::kill(-pid, SIGKILL);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) {
        return Error{ErrorKind::system,
                     "no answer within " + std::to_string(timeout.count()) + " ms"};
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

Result<std::string> probe_first_line(const std::vector<std::string>& argv,
                                     const std::vector<std::string>& env,
                                     std::chrono::milliseconds timeout) {
    Result<ProbeResult> result = probe_output(argv, env, timeout);
    if (!result) {
        return result.error();
    }
    const std::string& output = result->output;
    const size_t start = output.find_first_not_of(" \t\r\n");
    const size_t end = start == std::string::npos ? start : output.find('\n', start);
    const std::string first =
        start == std::string::npos
            ? ""
            : output.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (result->exit_code != 0 || first.empty()) {
        return Error{ErrorKind::system, "exit " + std::to_string(result->exit_code) +
                                            (first.empty() ? ", no output" : ": " + first)};
    }
    return first;
}

} // namespace fleet
