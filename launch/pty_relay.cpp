#include "launch/pty_relay.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <initializer_list>
#include <poll.h>
#include <signal.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "sys/child.hpp"
#include "sys/fd.hpp"
#include "sys/wait_status.hpp"

namespace fleet {

namespace {

// The write end of the self-pipe the parent's signal handlers write the signal number into.
int g_signal_pipe = -1;

void note_signal(int sig) {
    const int saved = errno;
    const auto byte = static_cast<unsigned char>(sig);
    [[maybe_unused]] const ssize_t n = ::write(g_signal_pipe, &byte, 1);
    errno = saved;
}

constexpr int k_relayed_signals[] = {SIGCHLD, SIGWINCH, SIGTERM, SIGHUP, SIGINT, SIGQUIT};

int first_terminal(std::initializer_list<int> fds) {
    for (const int fd : fds) {
        if (::isatty(fd) == 1) {
            return fd;
        }
    }
    return -1;
}

// Writes all of `data` to a blocking fd; false when the terminal has gone.
bool write_fully(int fd, const char* data, size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data += n;
        size -= static_cast<size_t>(n);
    }
    return true;
}

// How much of the master one turn of the loop copies, and how much is still handed on once the
// command has ended: a writer that never stops (`yes`, or a child left on the pty) must not keep
// the relay from its signals and stdin, nor from ending.
constexpr int k_reads_per_turn = 4;
constexpr int k_reads_after_end = 64; // 1 MiB

// Reads at most `reads` chunks of what the master holds, without waiting, and hands them to
// `out_fd` (-1: dropped). False at EIO or EOF: no process holds the slave any more.
bool copy_output(int master, int& out_fd, int reads) {
    char buffer[16384];
    for (int i = 0; i < reads; ++i) {
        const ssize_t n = ::read(master, buffer, sizeof buffer);
        if (n <= 0) {
            return n < 0 && (errno == EINTR || errno == EAGAIN);
        }
        if (out_fd >= 0 && !write_fully(out_fd, buffer, static_cast<size_t>(n))) {
            out_fd = -1; // the caller's terminal is gone: keep draining, drop the bytes
        }
    }
    return true;
}

// The parent's side: relays until the command has ended, then returns its shell code. The
// master is non-blocking: input the command does not read yet waits in `pending` (and stdin
// is not read meanwhile), so a full pty never blocks the relay of the command's output.
int relay(pid_t child, int master, int signals, int in_fd, int out_fd) {
    std::string pending;
    bool master_open = true;
    for (;;) {
        const bool want_input = in_fd >= 0 && pending.empty();
        const short master_events = static_cast<short>(POLLIN | (pending.empty() ? 0 : POLLOUT));
        pollfd fds[3] = {{signals, POLLIN, 0},
                         {master_open ? master : -1, master_events, 0},
                         {want_input ? in_fd : -1, POLLIN, 0}};
        if (::poll(fds, 3, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break; // cannot relay any more; the command is still waited for below
        }
        if ((fds[0].revents & POLLIN) != 0) {
            unsigned char sig = 0;
            while (::read(signals, &sig, 1) == 1) {
                if (sig == SIGWINCH) {
                    winsize size{};
                    if (out_fd >= 0 && ::ioctl(out_fd, TIOCGWINSZ, &size) == 0) {
                        ::ioctl(master, TIOCSWINSZ, &size);
                    }
                } else if (sig != SIGCHLD) {
                    ::kill(-child, sig);
                }
            }
            int status = 0;
            if (::waitpid(child, &status, WNOHANG) == child) {
                // What the command wrote last is in the master already: hand it on, then stop.
                if (master_open) {
                    copy_output(master, out_fd, k_reads_after_end);
                }
                return decode_wait_status(status).shell_code();
            }
        }
        if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            master_open = copy_output(master, out_fd, k_reads_per_turn);
        }
        if ((fds[1].revents & POLLOUT) != 0) {
            const ssize_t n = ::write(master, pending.data(), pending.size());
            if (n > 0) {
                pending.erase(0, static_cast<size_t>(n));
            } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
                pending.clear();
                in_fd = -1;
            }
        }
        if ((fds[2].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            char buffer[4096];
            const ssize_t n = ::read(in_fd, buffer, sizeof buffer);
            if (n > 0) {
                pending.assign(buffer, static_cast<size_t>(n));
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                in_fd = -1; // end of input: nothing more to relay that way
            }
        }
    }
    Result<ExitStatus> status = wait_for_exit(child);
    return status ? status->shell_code() : -1;
}

} // namespace

namespace {

// A fresh pty with the terminal's modes and size (when it has them).
struct Pty {
    Fd master; // O_NONBLOCK, for the relay
    Fd slave;  // the command's terminal
    bool have_modes = false;
};

Result<Pty> open_pty(int terminal) {
    Pty pty;
    pty.master = Fd(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (pty.master.get() < 0 || ::fcntl(pty.master.get(), F_SETFL, O_NONBLOCK) != 0) {
        return system_error("posix_openpt", errno);
    }
    char slave_name[PATH_MAX] = {};
    if (::grantpt(pty.master.get()) != 0 || ::unlockpt(pty.master.get()) != 0 ||
        ::ptsname_r(pty.master.get(), slave_name, sizeof slave_name) != 0) {
        return system_error("set up the pty", errno);
    }
    pty.slave = Fd(::open(slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (pty.slave.get() < 0) {
        return system_error(std::string("open ") + slave_name, errno);
    }
    termios modes{};
    pty.have_modes = ::tcgetattr(terminal, &modes) == 0;
    if (pty.have_modes && ::tcsetattr(pty.slave.get(), TCSANOW, &modes) != 0) {
        return system_error("tcsetattr on the pty", errno);
    }
    winsize size{};
    if (::ioctl(terminal, TIOCGWINSZ, &size) == 0 &&
        ::ioctl(pty.slave.get(), TIOCSWINSZ, &size) != 0) {
        return system_error("TIOCSWINSZ on the pty", errno);
    }
    return pty;
}

// The command's side, in the child: the pty is its controlling terminal and its stdio where
// ours was a terminal. Its mask is reset before exec (exec.hpp reset_signals).
Result<PtyRelay> become_command(Pty& pty) {
    pty.master.reset();
    ChildSetup setup; // the launch goes on from here: its own signal and fd steps follow
    setup.controlling_terminal = pty.slave.get();
    for (int fd = 0; fd <= 2; ++fd) {
        setup.stdio[static_cast<size_t>(fd)] =
            ::isatty(fd) == 1 ? pty.slave.get() : ChildSetup::k_keep;
    }
    setup.reset_signals = false;
    setup.cloexec_fds = false;
    if (const ChildFailure failed = apply_child_setup(setup); failed.failed()) {
        return system_error(std::string("put the command on its pty: ") +
                                child_step_name(failed.step),
                            failed.error);
    }
    return PtyRelay{PtyRelay::Role::command, 0};
}

// The relay's side, in the parent: the handlers that turn relayed signals into bytes on
// `signal_write`, our terminal raw while the relay runs (only when stdin is a terminal we are
// the foreground of: a background job changing the modes would be stopped by SIGTTOU), then
// the mask of before. The child is killed if a handler cannot be installed.
Result<PtyRelay> relay_for(pid_t child, Pty& pty, Fd& signal_read, int signal_write,
                           const sigset_t& previous) {
    pty.slave.reset();
    g_signal_pipe = signal_write;
    struct sigaction handler {};
    handler.sa_handler = note_signal;
    sigemptyset(&handler.sa_mask);
    handler.sa_flags = SA_RESTART;
    for (const int sig : k_relayed_signals) {
        if (::sigaction(sig, &handler, nullptr) != 0) {
            const int err = errno;
            ::kill(child, SIGKILL);
            [[maybe_unused]] const Result<ExitStatus> reaped = wait_for_exit(child);
            return system_error("sigaction", err);
        }
    }
    const bool raw = pty.have_modes && ::isatty(0) == 1 && ::tcgetpgrp(0) == ::getpgrp();
    termios original{};
    if (raw && ::tcgetattr(0, &original) == 0) {
        termios relayed_modes = original;
        ::cfmakeraw(&relayed_modes);
        ::tcsetattr(0, TCSAFLUSH, &relayed_modes);
    }
    ::sigprocmask(SIG_SETMASK, &previous, nullptr);
    const int in_fd = ::isatty(0) == 1 ? 0 : -1;
    const int code =
        relay(child, pty.master.get(), signal_read.get(), in_fd, first_terminal({1, 2, 0}));
    if (raw) {
        ::tcsetattr(0, TCSAFLUSH, &original);
    }
    return PtyRelay{PtyRelay::Role::relay, code};
}

} // namespace

Result<PtyRelay> start_pty_relay() {
    const int terminal = first_terminal({0, 1, 2});
    if (terminal < 0) {
        return Error{ErrorKind::system, "no terminal on fd 0-2 to relay"};
    }
    Result<Pty> pty = open_pty(terminal);
    if (!pty) {
        return pty.error();
    }
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        return system_error("pipe2", errno);
    }
    Fd signal_read(pipe_fds[0]);
    Fd signal_write(pipe_fds[1]);
    // Block the relayed signals across fork, so none is lost between fork and the handlers.
    sigset_t relayed, previous;
    sigemptyset(&relayed);
    for (const int sig : k_relayed_signals) {
        sigaddset(&relayed, sig);
    }
    if (::sigprocmask(SIG_BLOCK, &relayed, &previous) != 0) {
        return system_error("sigprocmask", errno);
    }
    const pid_t child = ::fork();
    if (child < 0) {
        const int err = errno;
        ::sigprocmask(SIG_SETMASK, &previous, nullptr);
        return system_error("fork", err);
    }
    if (child == 0) {
        return become_command(*pty);
    }
    return relay_for(child, *pty, signal_read, signal_write.get(), previous);
}

} // namespace fleet
