#include "dispatch/runner_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dispatch/report.hpp"
#include "dispatch/run_events.hpp"
#include "dispatch/run_metrics.hpp"
#include "dispatch/summary.hpp"
#include "runner/capture.hpp"
#include "runner/run_store.hpp"
#include "runner/status.hpp"
#include "sys/child.hpp"
#include "sys/io.hpp"
#include "sys/wait_status.hpp"

namespace fleet {

namespace {

constexpr char k_namespace_up = 'N';
constexpr char k_namespace_failed = 'F';
constexpr char k_registered = 'R';
constexpr char k_run_started = 'S';
constexpr char k_run_ended = 'E';

volatile sig_atomic_t g_inner = 0; // the outer's child, for forward_signal

void forward_signal(int sig) {
    if (g_inner > 0) {
        ::kill(static_cast<pid_t>(g_inner), sig);
    }
}

// This process's pid as its /proc's namespace sees it: the first NSpid field.
pid_t visible_pid() {
    Result<std::string> status = read_file_at(AT_FDCWD, "/proc/self/status", 1 << 16);
    if (status) {
        const size_t at = status->find("\nNSpid:");
        if (at != std::string::npos) {
            return static_cast<pid_t>(std::strtol(status->c_str() + at + 7, nullptr, 10));
        }
    }
    return ::getpid();
}

// Step 5b: what the user's own processes listen on, where a confined agent could still reach
// them (Landlock before ABI 9 does not govern connect(2) to a named socket, and no ABI governs
// a terminal the user owns): the run gets an empty /run/user (systemd's user instance and its
// D-Bus, which would start anything unconfined: `systemd-run --user`; gpg-agent, ssh-agent
// sockets) and /run/screen, and a devpts of its own, so the operator's terminal (/dev/pts/N,
// often the agent user's own when the operator logged in as it) is not there to open.
std::string hide_user_endpoints() {
    struct stat info {};
    for (const char* dir : {"/run/user", "/run/screen"}) {
        if (::stat(dir, &info) == 0 &&
            ::mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") != 0) {
            return std::string("mount tmpfs on ") + dir + ": " + std::strerror(errno);
        }
    }
    if (::mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                "newinstance,ptmxmode=0666,mode=0620") != 0) {
        return std::string("mount a new devpts on /dev/pts: ") + std::strerror(errno);
    }
    if (::mount("/dev/pts/ptmx", "/dev/ptmx", nullptr, MS_BIND, nullptr) != 0) {
        return std::string("bind /dev/pts/ptmx on /dev/ptmx: ") + std::strerror(errno);
    }
    return "";
}

// Steps 4 to 6, in the inner; an error message, or empty.
std::string enter_mount_namespace(pid_t& host_pid) {
    host_pid = visible_pid();
    if (::unshare(CLONE_NEWNS) != 0) {
        return std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
        return std::string("mount --make-rslave /: ") + std::strerror(errno);
    }
    if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
        return std::string("mount proc on /proc: ") + std::strerror(errno);
    }
    return hide_user_endpoints();
}

// The outer's reading of the pipe: one report, or the end of it.
struct Report {
    char kind = 0; // 0: end of file (the inner exited without a word)
    std::string text;
};

Report read_report(int fd) {
    Report report;
    char byte = 0;
    ssize_t n = 0;
    while ((n = ::read(fd, &byte, 1)) != 0) {
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return report;
        }
        if (report.kind == 0) {
            report.kind = byte;
            if (byte == k_namespace_up) {
                return report;
            }
        } else if (byte == '\n') {
            return report;
        } else {
            report.text += byte;
        }
    }
    report.kind = 0;
    return report;
}

// The inner's exit code; a runner killed by a signal is a setup failure (exit 3, never the
// 128 + N a shell would show: SSM reads 137 as its own timeout).
[[noreturn]] void exit_like(pid_t inner) {
    const Result<ExitStatus> status = wait_for_exit(inner);
    if (status && status->exited) {
        std::exit(status->code);
    }
    std::exit(fail(k_exit_setup, "the runner ended with " +
                                     (status ? describe(*status) : status.error().message)));
}

// What the outer heard of an attached run (step 8).
struct AttachedRun {
    std::string run_id, task, console;
    bool ended = false;
};

// 'S' text: "ID TASK CONSOLE" (none of them holds a space).
AttachedRun started_run(const std::string& text) {
    AttachedRun run;
    const size_t first = text.find(' '), last = text.rfind(' ');
    if (first != std::string::npos && last > first) {
        run.run_id = text.substr(0, first);
        run.task = text.substr(first + 1, last - first - 1);
        run.console = text.substr(last + 1);
    }
    return run;
}

// A run that started and whose runner did not log its end: the end, as status.json says (lost
// once nobody holds its lock), with the exit code the outer exits with, then the console's
// last line.
void end_unfinished_run(const Session& session, const AttachedRun& run, int exit_code,
                        const std::string& reason) {
    RunStatus status;
    if (Result<RunStatus> read = RunStore(session.runs_dir).read_status(run.run_id); read) {
        status = std::move(*read);
    }
    status.run_id = run.run_id;
    // A run that reached its end state got as far as counting itself (run.cpp counts before
    // it says it ended); only one that never did (running, or read as lost) is counted here.
    const bool uncounted = status.state == RunState::running || status.state == RunState::lost;
    if (uncounted) {
        status.state = RunState::lost;
    }
    status.exit_code = exit_code;
    const RunEventContext context{run.task, session.identity.name, reason};
    (void)emit_run_event(session.config.run_events,
                         run_end_event(status, context, std::chrono::system_clock::now()),
                         ::getpid());
    if (const std::string failed =
            uncounted ? record_run_metrics(session.config.metrics_file, session.runs_dir, status)
                      : std::string();
        !failed.empty()) {
        warn("metrics: " + failed);
    }
    if (run.console != "none") {
        Console(1).write(run.console == "json" ? to_json(status, -1) + "\n" : result_line(status));
    }
}

// Step 8: the outer's whole life after its drop.
[[noreturn]] void relay(pid_t inner, const Fd& from_inner, const Session& session) {
    g_inner = inner;
    struct sigaction forward {};
    forward.sa_handler = forward_signal;
    sigemptyset(&forward.sa_mask);
    for (const int sig : {SIGTERM, SIGINT, SIGHUP}) {
        ::sigaction(sig, &forward, nullptr);
    }
    AttachedRun run;
    for (Report report = read_report(from_inner.get()); report.kind != 0;
         report = read_report(from_inner.get())) {
        if (report.kind == k_registered) {
            Console(1).write("run-id: " + report.text + "\n");
            std::exit(k_exit_ok);
        }
        if (report.kind == k_run_started) {
            run = started_run(report.text);
        } else if (report.kind == k_run_ended) {
            run.ended = true;
        }
    }
    const Result<ExitStatus> status = wait_for_exit(inner);
    const bool exited = status && status->exited;
    // A runner killed by a signal is a setup failure (exit 3, never the 128 + N a shell would
    // show: SSM reads 137 as its own timeout).
    const std::string killed =
        exited ? ""
               : "the runner ended with " + (status ? describe(*status) : status.error().message);
    const int code = exited ? status->code : fail(k_exit_setup, killed);
    if (!run.run_id.empty() && !run.ended) {
        end_unfinished_run(session, run, code,
                           exited ? "the runner exited " + std::to_string(code) + " before its end"
                                  : killed);
    }
    std::exit(code);
}

// Steps 2 and 3; in the child the namespace is up (or reported failed, and it exited).
// Returns the child's pid in the outer, 0 in the child, or -1 with `no_namespace` set when
// none could be made (the caller forks a plain child).
pid_t fork_into_namespace(const Fd& to_outer, RunnerProcess& runner) {
    const Fd own(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
    if (!own.valid()) {
        runner.no_namespace = std::string("/proc/self/ns/pid: ") + std::strerror(errno);
        return -1;
    }
    if (::unshare(CLONE_NEWPID) != 0) {
        runner.no_namespace = std::string("unshare(CLONE_NEWPID): ") + std::strerror(errno);
        return -1;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        const std::string failed = enter_mount_namespace(runner.host_pid);
        const int written =
            write_all(to_outer.get(), failed.empty() ? std::string(1, k_namespace_up)
                                                     : k_namespace_failed + failed + "\n");
        if (!failed.empty() || written != 0) {
            ::_exit(k_exit_setup); // the outer falls back, or relays this exit
        }
        runner.pid_namespace = true;
        return 0;
    }
    const int saved = errno;
    if (::setns(own.get(), CLONE_NEWPID) != 0) {
        // The outer forks nothing more into the new namespace unless a fallback needs it,
        // and then fork fails there: say why.
        runner.no_namespace = std::string("setns: ") + std::strerror(errno);
    }
    if (pid < 0) {
        runner.no_namespace = std::string("fork: ") + std::strerror(saved);
    }
    return pid;
}

// Step 1: the report pipe, its write end the inner's.
Status open_report_pipe(Fd& from_inner, RunnerProcess& runner) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return system_error("pipe2", errno);
    }
    from_inner = Fd(fds[0]);
    runner.to_outer = Fd(fds[1]);
    return Ok{};
}

} // namespace

Result<RunnerProcess> start_runner(Session& session, Detach detach, bool required,
                                   RunLimitsSetup limits) {
    RunnerProcess runner;
    runner.detach = detach;
    runner.limits = std::move(limits);
    // Before the keeper is forked, the cgroups are this process's to remove.
    const auto refuse = [&runner](const Error& error) -> Result<RunnerProcess> {
        discard_run_limits(runner.limits);
        return error;
    };
    Fd from_inner;
    if (Status opened = open_report_pipe(from_inner, runner); !opened) {
        return refuse(opened.error());
    }
    pid_t inner = -1;
    if (session.as_root) {
        inner = fork_into_namespace(runner.to_outer, runner);
        if (inner > 0) {
            // Only the inner may hold the write end: an inner that dies without a word is EOF.
            runner.to_outer.reset();
            const Report report = read_report(from_inner.get());
            if (report.kind == k_namespace_failed) {
                runner.no_namespace = report.text;
                (void)wait_for_exit(inner);
                inner = -1;
                if (Status opened = open_report_pipe(from_inner, runner); !opened) {
                    return refuse(opened.error());
                }
            } else if (report.kind != k_namespace_up) {
                discard_run_limits(runner.limits);
                exit_like(inner);
            }
        }
    } else {
        runner.no_namespace = "not root";
    }
    if (inner < 0 && required) {
        return refuse(Error{ErrorKind::system, "confine = \"required\": no PID namespace for the "
                                               "run (" +
                                                   runner.no_namespace + ")"});
    }
    if (inner < 0) {
        runner.host_pid = 0;
        inner = ::fork();
        if (inner < 0) {
            return refuse(system_error("fork", errno));
        }
    }
    if (inner == 0) {
        from_inner.reset();
        if (runner.host_pid == 0) {
            runner.host_pid = ::getpid();
        }
        if (detach == Detach::yes && ::setsid() < 0) {
            return system_error("setsid", errno);
        }
        if (Status joined = enter_run_limits(runner.limits); !joined) {
            return joined.error();
        }
        return runner;
    }
    // The outer: the keeper, then drop like the inner, and only relay.
    runner.to_outer.reset();
    int exit_code = 0;
    if (Status kept = start_keeper(runner.limits, inner); !kept) {
        ::kill(inner, SIGKILL);
        (void)wait_for_exit(inner);
        discard_run_limits(runner.limits);
        std::exit(fail(k_exit_setup, kept.error().message));
    }
    if (Status dropped = drop_to_target(session, exit_code); !dropped) {
        ::kill(inner, SIGKILL);
        (void)wait_for_exit(inner);
        std::exit(fail(exit_code, dropped.error().message));
    }
    relay(inner, from_inner, session);
}

std::string probe_run_namespace() {
    RunnerProcess probe;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return std::string("pipe2: ") + std::strerror(errno);
    }
    const Fd from_inner(fds[0]);
    probe.to_outer = Fd(fds[1]);
    // In a child of our own, so that this process's namespace for children stays as it was.
    const pid_t prober = ::fork();
    if (prober < 0) {
        return std::string("fork: ") + std::strerror(errno);
    }
    if (prober == 0) {
        const pid_t inner = fork_into_namespace(probe.to_outer, probe);
        if (inner == 0) {
            ::_exit(0);
        }
        if (inner < 0) {
            write_all(probe.to_outer.get(), k_namespace_failed + probe.no_namespace + "\n");
        } else {
            (void)wait_for_exit(inner);
        }
        ::_exit(0);
    }
    probe.to_outer.reset();
    const Report report = read_report(from_inner.get());
    (void)wait_for_exit(prober);
    if (report.kind == k_namespace_up) {
        return "";
    }
    return report.kind == k_namespace_failed ? report.text : "the probe ended without a word";
}

Status runner_attached(const RunnerProcess& runner) {
    if (runner.detach == Detach::yes) {
        return Ok{};
    }
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM, 0UL, 0UL, 0UL) != 0) {
        return system_error("prctl(PR_SET_PDEATHSIG)", errno);
    }
    // The outer holds the only read end: POLLERR once it is gone, even before the prctl.
    pollfd end{runner.to_outer.get(), 0, 0};
    if (::poll(&end, 1, 0) == 1 && (end.revents & POLLERR) != 0) {
        return Error{ErrorKind::system, "the caller went away before the run started"};
    }
    return Ok{};
}

void runner_registered(RunnerProcess& runner, const std::string& run_id) {
    if (runner.detach == Detach::no || !runner.to_outer.valid()) {
        return;
    }
    ChildSetup setup; // only its stdio step: the inner goes on, its fds and signals stay
    setup.session = ChildSession::inherit;
    setup.stdio = {ChildSetup::k_null, ChildSetup::k_null, ChildSetup::k_null};
    setup.reset_signals = false;
    setup.cloexec_fds = false;
    (void)apply_child_setup(setup);
    write_all(runner.to_outer.get(), std::string(1, k_registered) + run_id + "\n");
    runner.to_outer.reset();
}

void runner_run_started(const RunnerProcess& runner, const std::string& run_id,
                        const std::string& task, const std::string& console) {
    if (runner.detach == Detach::no && runner.to_outer.valid()) {
        (void)write_all(runner.to_outer.get(),
                        k_run_started + run_id + " " + task + " " + console + "\n");
    }
}

void runner_run_ended(const RunnerProcess& runner) {
    if (runner.detach == Detach::no && runner.to_outer.valid()) {
        (void)write_all(runner.to_outer.get(), std::string(1, k_run_ended) + "\n");
    }
}

} // namespace fleet
