#include "base/probe.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "launch/credentials.hpp"
#include "sys/child.hpp"
#include "sys/fd.hpp"

namespace fleet {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds k_slice{50};

// True once `pid` has ended, leaving it unreaped (its process group id stays reserved).
bool has_ended(pid_t pid) {
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
        if (errno != EINTR) {
            return true; // ECHILD: nothing left to wait for
        }
    }
    return info.si_pid == pid;
}

// The hook of run_bounded's child setup (sys/child.hpp): the drop to ProbeLimits::as_user,
// with no_new_privs, and its verification.
int drop_to(const void* context) {
    const auto* user = static_cast<const Identity*>(context);
    if (Status dropped = drop_privileges(*user, NoNewPrivs::yes); !dropped) {
        return errno != 0 ? errno : EPERM;
    }
    if (Status verified = verify_credentials(*user, NoNewPrivs::yes); !verified) {
        return EPERM;
    }
    return 0;
}

// The child's hook: the drop when asked, then the caller's confinement when given.
struct ProbeSteps {
    const Identity* as_user;
    ChildHook confine;
    const void* confine_context;
};

int probe_steps(const void* context) {
    const auto* steps = static_cast<const ProbeSteps*>(context);
    if (steps->as_user != nullptr) {
        if (const int error = drop_to(steps->as_user); error != 0) {
            return error;
        }
    }
    return steps->confine != nullptr ? steps->confine(steps->confine_context) : 0;
}

class OutputReader {
public:
    OutputReader(Fd fd, size_t cap) : m_fd(std::move(fd)), m_cap(cap) {}

    bool open() const { return m_fd.valid(); }

    // Waits up to `wait` for output and reads what is there; closes at EOF.
    void read_for(std::chrono::milliseconds wait, ProbeResult& result) {
        pollfd entry{m_fd.get(), POLLIN, 0};
        const int ready = ::poll(&entry, 1, static_cast<int>(std::max<int64_t>(wait.count(), 0)));
        if (ready <= 0) {
            return;
        }
        char buffer[16384];
        const ssize_t n = ::read(m_fd.get(), buffer, sizeof buffer);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            return;
        }
        if (n <= 0) {
            m_fd.reset();
            return;
        }
        const size_t room = m_cap - std::min(m_cap, result.output.size());
        result.output.append(buffer, std::min(room, static_cast<size_t>(n)));
        result.truncated = result.truncated || static_cast<size_t>(n) > room;
    }

    // After the command ended: what is already buffered, without waiting for writers the
    // command may have left behind.
    void drain(ProbeResult& result) {
        if (open() && ::fcntl(m_fd.get(), F_SETFL, O_NONBLOCK) == 0) {
            while (open()) {
                const size_t before = result.output.size();
                const bool was_truncated = result.truncated;
                read_for(std::chrono::milliseconds(0), result);
                if (result.output.size() == before && result.truncated == was_truncated) {
                    break;
                }
            }
        }
    }

private:
    Fd m_fd;
    size_t m_cap;
};

} // namespace

Result<ProbeResult> run_bounded(const std::vector<std::string>& argv,
                                const std::vector<std::string>& env, const ProbeLimits& limits) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return system_error("pipe2", errno);
    }
    Fd write_end(fds[1]);
    OutputReader reader{Fd(fds[0]), limits.max_output};
    ChildSetup setup;
    setup.session = ChildSession::new_session;
    const ProbeSteps steps{limits.as_user, limits.confine, limits.confine_context};
    if (limits.as_user != nullptr || limits.confine != nullptr) {
        setup.hook = probe_steps;
        setup.hook_context = &steps;
    }
    setup.stdio = {limits.stdin_fd >= 0 ? limits.stdin_fd : ChildSetup::k_null,
                   limits.stdout_fd >= 0 ? limits.stdout_fd : write_end.get(), write_end.get()};
    setup.workdir = limits.workdir.empty() ? nullptr : limits.workdir.c_str();
    Result<pid_t> started = spawn_process(setup, argv, env);
    if (!started) {
        return started.error();
    }
    const pid_t pid = *started;
    write_end.reset();
    ProbeResult result;
    const auto deadline = Clock::now() + limits.timeout;
    std::chrono::milliseconds pause{1};
    for (;;) {
        if (has_ended(pid)) {
            reader.drain(result);
            break;
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            break;
        }
        if (reader.open()) {
            reader.read_for(std::min(left, k_slice), result);
        } else {
            // Output closed: the exit is usually microseconds away.
            std::this_thread::sleep_for(std::min({left, pause, k_slice}));
            pause *= 2;
        }
    }
    if (result.timed_out) {
        ::kill(-pid, SIGTERM);
        const auto kill_at = Clock::now() + limits.grace;
        while (Clock::now() < kill_at && !has_ended(pid)) {
            if (reader.open()) {
                reader.read_for(k_slice, result);
            } else {
                std::this_thread::sleep_for(k_slice);
            }
        }
    }
    ::kill(-pid, SIGKILL);
    reader.drain(result);
    // No status (ECHILD) stays an unknown status, which is never a success.
    Result<ExitStatus> status = wait_for_exit(pid);
    if (status) {
        result.status = *status;
    }
    return result;
}

Result<ProbeResult> probe_output(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env,
                                 std::chrono::milliseconds timeout) {
    ProbeLimits limits;
    limits.timeout = timeout;
    Result<ProbeResult> result = run_bounded(argv, env, limits);
    if (result && result->timed_out) {
        return Error{ErrorKind::system,
                     "no answer within " + std::to_string(timeout.count()) + " ms"};
    }
    return result;
}

std::string first_line_of(const std::string& text) {
    const size_t start = text.find_first_not_of(" \t\r\n");
    if (start == std::string::npos) {
        return "";
    }
    const size_t end = text.find_first_of("\r\n", start);
    return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

Result<std::string> probe_first_line(const std::vector<std::string>& argv,
                                     const std::vector<std::string>& env,
                                     const ProbeLimits& limits) {
    Result<ProbeResult> result = run_bounded(argv, env, limits);
    if (!result) {
        return result.error();
    }
    if (result->timed_out) {
        return Error{ErrorKind::system,
                     "no answer within " + std::to_string(limits.timeout.count()) + " ms"};
    }
    const std::string first = first_line_of(result->output);
    if (!result->succeeded() || first.empty()) {
        return Error{ErrorKind::system,
                     describe(result->status) + (first.empty() ? ", no output" : ": " + first)};
    }
    return first;
}

} // namespace fleet
