#include "sys/child.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sys/exec.hpp"
#include "sys/wait_status.hpp"

namespace fleet {

namespace {

ChildFailure failure(ChildStep step) {
    return ChildFailure{step, errno != 0 ? errno : EINVAL};
}

bool apply_stdio(const std::array<int, 3>& stdio) {
    for (int target = 0; target < 3; ++target) {
        int source = stdio[static_cast<size_t>(target)];
        if (source == ChildSetup::k_keep) {
            continue;
        }
        if (source == ChildSetup::k_null) {
            source = ::open("/dev/null", O_RDWR | O_CLOEXEC);
            if (source < 0) {
                return false;
            }
        }
        if (source != target && ::dup2(source, target) < 0) {
            return false;
        }
        if (source == target) { // dup2 onto itself would keep FD_CLOEXEC: clear it
            const int flags = ::fcntl(target, F_GETFD);
            if (flags < 0 || ::fcntl(target, F_SETFD, flags & ~FD_CLOEXEC) != 0) {
                return false;
            }
        }
    }
    return true;
}

} // namespace

const char* child_step_name(ChildStep step) {
    switch (step) {
    case ChildStep::none:
        return "nothing";
    case ChildStep::session:
        return "setsid";
    case ChildStep::terminal:
        return "TIOCSCTTY";
    case ChildStep::hook:
        return "set up";
    case ChildStep::death:
        return "PR_SET_PDEATHSIG";
    case ChildStep::stdio:
        return "dup2";
    case ChildStep::workdir:
        return "chdir";
    case ChildStep::signals:
        return "reset signals";
    case ChildStep::fds:
        return "close-on-exec";
    case ChildStep::exec:
        return "exec";
    }
    return "?";
}

ChildFailure apply_child_setup(const ChildSetup& setup) {
    errno = 0;
    if ((setup.session == ChildSession::new_session && ::setsid() < 0) ||
        (setup.session == ChildSession::own_group && ::setpgid(0, 0) != 0)) {
        return failure(ChildStep::session);
    }
    if (setup.controlling_terminal >= 0 && ::ioctl(setup.controlling_terminal, TIOCSCTTY, 0) != 0) {
        return failure(ChildStep::terminal);
    }
    if (setup.hook != nullptr) {
        if (const int error = setup.hook(setup.hook_context); error != 0) {
            return ChildFailure{ChildStep::hook, error};
        }
    }
    if (setup.death_signal != 0) {
        if (::prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(setup.death_signal)) != 0) {
            return failure(ChildStep::death);
        }
        if (::getppid() != setup.parent) {
            return ChildFailure{ChildStep::death, ESRCH};
        }
    }
    if (!apply_stdio(setup.stdio)) {
        return failure(ChildStep::stdio);
    }
    if (setup.workdir != nullptr && ::chdir(setup.workdir) != 0) {
        return failure(ChildStep::workdir);
    }
    if (setup.reset_signals && !reset_signals()) {
        return failure(ChildStep::signals);
    }
    if (setup.cloexec_fds && !mark_fds_cloexec(3)) {
        return failure(ChildStep::fds);
    }
    return ChildFailure{};
}

ChildErrorPipe::ChildErrorPipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        m_error = errno;
        return;
    }
    m_read = fds[0];
    m_write = fds[1];
}

ChildErrorPipe::~ChildErrorPipe() {
    for (const int fd : {m_read, m_write}) {
        if (fd >= 0) {
            ::close(fd);
        }
    }
}

void ChildErrorPipe::report(const ChildFailure& failure) const {
    const int message[2] = {static_cast<int>(failure.step), failure.error};
    [[maybe_unused]] const ssize_t n = ::write(m_write, message, sizeof message);
}

ChildFailure ChildErrorPipe::collect() {
    if (m_write >= 0) {
        ::close(m_write);
        m_write = -1;
    }
    int message[2] = {0, 0};
    ssize_t n = 0;
    while ((n = ::read(m_read, message, sizeof message)) < 0 && errno == EINTR) {
    }
    if (n != static_cast<ssize_t>(sizeof message)) {
        return ChildFailure{}; // closed by a successful exec
    }
    return ChildFailure{static_cast<ChildStep>(message[0]), message[1]};
}

Result<pid_t> spawn_process(const ChildSetup& setup, const std::vector<std::string>& argv,
                            const std::vector<std::string>& envp) {
    ChildErrorPipe errors;
    if (!errors.valid()) {
        return system_error("pipe2", errors.error());
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        return system_error("fork", errno);
    }
    if (pid == 0) {
        ChildFailure failed = apply_child_setup(setup);
        if (!failed.failed()) {
            failed = ChildFailure{ChildStep::exec, exec_command(argv, envp).error};
        }
        errors.report(failed);
        ::_exit(127);
    }
    const ChildFailure failed = errors.collect();
    if (!failed.failed()) {
        return pid;
    }
    [[maybe_unused]] const Result<ExitStatus> reaped = wait_for_exit(pid);
    const std::string what = argv.empty() ? "" : argv[0];
    return Error{
        failed.step == ChildStep::exec && (failed.error == ENOENT || failed.error == EACCES)
            ? ErrorKind::invalid_input
            : ErrorKind::system,
        "start " + what + ": " + child_step_name(failed.step) + ": " + std::strerror(failed.error)};
}

} // namespace fleet
