#include "dispatch/run_limits.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <optional>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/probe.hpp"
#include "dispatch/agents/outcome_text.hpp"
#include "runner/proc.hpp"
#include "sys/cgroup.hpp"
#include "sys/exec.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

constexpr std::chrono::seconds k_scope_timeout{10};
constexpr std::chrono::seconds k_scope_settle{1};
constexpr const char* k_busctl = "/usr/bin/busctl"; // systemd's, wherever it is PID 1

Result<std::string> cgroup_name() {
    unsigned char bytes[4];
    if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
        return system_error("getrandom", errno);
    }
    char name[64];
    std::snprintf(name, sizeof name, "run-%d-%02x%02x%02x%02x", static_cast<int>(::getpid()),
                  bytes[0], bytes[1], bytes[2], bytes[3]);
    return std::string(name);
}

// Where /proc/self/cgroup shows this process in `scope`: in systemd's own hierarchy (v2, or
// name=systemd on v1), and in every hierarchy a run uses (memory, pids).
struct ScopeEntry {
    bool tracked = false; // systemd's own hierarchy
    bool whole = false;   // and memory and pids too
};

ScopeEntry scope_entry(const std::string& scope) {
    ScopeEntry entry;
    Result<std::string> text = read_file_at(AT_FDCWD, "/proc/self/cgroup", 1 << 16);
    if (!text) {
        return entry;
    }
    entry.whole = true;
    for (const CgroupMembership& line : cgroup_memberships(*text)) {
        const CgroupHierarchy hierarchy{line.controllers.empty(), line.controllers, "", ""};
        const bool systemds = line.controllers.empty() || line.controllers == "name=systemd";
        if (!systemds && !hierarchy.has("memory") && !hierarchy.has("pids")) {
            continue;
        }
        const std::string& path = line.path;
        const bool in =
            path.size() > scope.size() &&
            path.compare(path.size() - scope.size() - 1, std::string::npos, "/" + scope) == 0;
        entry.tracked = entry.tracked || (systemds && in);
        entry.whole = entry.whole && in;
    }
    entry.whole = entry.whole && entry.tracked;
    return entry;
}

// Step 2b, under systemd: the scope, then this process into its leaf "caller" (a delegated
// v2 cgroup takes no process beside its children), and the layout read again with the
// scope as this process's cgroup.
Status enter_systemd_scope(const std::string& name, CgroupLayout& layout) {
    const std::string scope = "fleet-dispatch-" + name + ".scope";
    // Its name and mode; 4 properties (TasksMax: the run's own pids_max bounds it, not
    // systemd's default); no auxiliary units. Nothing newer than systemd 219 (Amazon Linux 2).
    const std::vector<std::string> call = {k_busctl,
                                           "call",
                                           "org.freedesktop.systemd1",
                                           "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager",
                                           "StartTransientUnit",
                                           "ssa(sv)a(sa(sv))",
                                           scope,
                                           "fail",
                                           "4",
                                           "PIDs",
                                           "au",
                                           "1",
                                           std::to_string(::getpid()),
                                           "Delegate",
                                           "b",
                                           "true",
                                           "TasksMax",
                                           "t",
                                           "18446744073709551615",
                                           "Description",
                                           "s",
                                           "fleet-dispatch " + name,
                                           "0"};
    Result<ProbeResult> started = probe_output(call, {k_system_path}, k_scope_timeout);
    if (!started || !started->succeeded()) {
        return Error{ErrorKind::system,
                     "systemd: StartTransientUnit " + scope + ": " +
                         (started ? short_text(started->output) : started.error().message)};
    }
    // The job runs after the call returns: this process moves once systemd has started it, one
    // hierarchy after the other. A controller systemd does not manage (pids under systemd 219,
    // Amazon Linux 2) never moves: a second after its own hierarchy, what has moved is it.
    const auto deadline = std::chrono::steady_clock::now() + k_scope_timeout;
    std::optional<std::chrono::steady_clock::time_point> tracked;
    for (ScopeEntry entry = scope_entry(scope); !entry.whole; entry = scope_entry(scope)) {
        const auto now = std::chrono::steady_clock::now();
        if (entry.tracked && !tracked) {
            tracked = now;
        }
        if (tracked && now - *tracked > k_scope_settle) {
            break;
        }
        if (!tracked && now > deadline) {
            return Error{ErrorKind::system, "systemd: " + scope + " never took this process"};
        }
        const timespec pause{0, 10'000'000};
        ::nanosleep(&pause, nullptr);
    }
    Result<CgroupLayout> scoped = cgroup_layout();
    if (!scoped) {
        return scoped.error();
    }
    if (const CgroupHierarchy* v2 = scoped->v2()) {
        const std::string caller = v2->path() + "/caller";
        if (::mkdir(caller.c_str(), 0755) != 0 || ::chmod(caller.c_str(), 0755) != 0) {
            return system_error("mkdir " + caller, errno);
        }
        const Fd procs(::open((caller + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
        if (!procs.valid() || ::write(procs.get(), "0", 1) != 1) {
            return system_error("join " + caller, errno);
        }
    }
    layout = *scoped;
    return Ok{};
}

// Steps 2 to 5; an Error is why the limits cannot be applied.
Status make_cgroups(const Config& config, const std::vector<std::string>& agents,
                    RunLimitsSetup& setup) {
    Result<std::string> name = cgroup_name();
    if (!name) {
        return name.error();
    }
    Result<CgroupLayout> layout = cgroup_layout();
    if (!layout) {
        return layout.error();
    }
    struct stat info {};
    if (::stat("/run/systemd/system", &info) == 0) {
        if (Status scoped = enter_systemd_scope(*name, *layout); !scoped) {
            return scoped;
        }
    }
    setup.record.cgroup_mode = to_string(layout->mode);
    CgroupRequest request = plan_limits(config, agents, mem_total());
    request.name = *name;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return system_error("pipe2", errno);
    }
    setup.life_read = Fd(fds[0]);
    setup.life_write = Fd(fds[1]);
    Result<RunCgroups> made = create_run_cgroups(*layout, request);
    if (!made) {
        return made.error();
    }
    setup.record.applied = true;
    setup.record.cgroup = made->path;
    setup.record.limits = request.run;
    setup.cgroups = std::move(*made);
    return Ok{};
}

} // namespace

uint64_t mem_total() {
    Result<std::string> text = read_file_at(AT_FDCWD, "/proc/meminfo", 1 << 16);
    if (!text) {
        return 0;
    }
    const size_t at = text->find("MemTotal:");
    return at == std::string::npos ? 0 : std::strtoull(text->c_str() + at + 9, nullptr, 10) * 1024;
}

Result<RunLimitsSetup> setup_run_limits(const Config& config,
                                        const std::vector<std::string>& agents, bool as_root) {
    RunLimitsSetup setup;
    setup.oom_score_adj = config.oom_score_adj;
    setup.record.mode = to_string(config.limits);
    if (config.limits == LimitsMode::off) {
        return setup;
    }
    Status made = as_root ? make_cgroups(config, agents, setup)
                          : Status(Error{ErrorKind::system, "not root"});
    if (!made) {
        setup.life_read.reset();
        setup.life_write.reset();
        setup.record.applied = false;
        setup.record.not_applied = made.error().message;
        if (config.limits == LimitsMode::required) {
            return Error{ErrorKind::system, "limits = \"required\", but they cannot be applied: " +
                                                made.error().message};
        }
    }
    return setup;
}

void discard_run_limits(RunLimitsSetup& limits) {
    if (limits.cgroups) {
        (void)remove_run_cgroups(limits.cgroups->dirs, std::chrono::seconds(1));
        limits.cgroups.reset();
    }
    limits.life_read.reset();
    limits.life_write.reset();
}

Status enter_run_limits(RunLimitsSetup& limits) {
    limits.life_read.reset();
    const Fd score(::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC));
    if (!score.valid() || write_all(score.get(), std::to_string(limits.oom_score_adj)) != 0) {
        return system_error("set oom_score_adj " + std::to_string(limits.oom_score_adj), errno);
    }
    return Ok{};
}

Status start_keeper(RunLimitsSetup& limits, pid_t runner) {
    if (!limits.cgroups) {
        return Ok{};
    }
    limits.life_write.reset();
    const std::optional<unsigned long long> start_time = process_start_time(runner);
    if (!start_time) {
        return Error{ErrorKind::system, "the runner is gone before its cgroups' keeper started"};
    }
    const pid_t keeper = ::fork();
    if (keeper < 0) {
        return system_error("fork the cgroup keeper", errno);
    }
    if (keeper == 0) {
        // Nothing of the caller's is held: not SSM's stdout (which would keep its command
        // running), not the runner's report pipe; fd 3 is the life line.
        const int null = ::open("/dev/null", O_RDWR);
        for (int fd = 0; fd < 3; ++fd) {
            if (null < 0 ? ::close(fd) != 0 && errno != EBADF : ::dup2(null, fd) < 0) {
                ::_exit(1);
            }
        }
        if (::dup2(limits.life_read.get(), 3) < 0 || !close_fds_from(4)) {
            ::_exit(1);
        }
        (void)limits.life_read.release();
        keep_run_cgroups(Fd(3), limits.cgroups->dirs, runner, *start_time);
    }
    limits.life_read.reset();
    limits.cgroups.reset();
    return Ok{};
}

} // namespace fleet
