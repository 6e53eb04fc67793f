#include "dispatch/run_limits.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/probe.hpp"
#include "dispatch/agents/outcome_text.hpp"
#include "sys/cgroup.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

constexpr std::chrono::seconds k_scope_timeout{10};

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

// This process's v2 cgroup ("0::PATH" of /proc/self/cgroup), or "" when it has none.
std::string own_v2_cgroup() {
    Result<std::string> text = read_file_at(AT_FDCWD, "/proc/self/cgroup", 1 << 16);
    const size_t at = text ? text->find("0::") : std::string::npos;
    if (at == std::string::npos || (at > 0 && (*text)[at - 1] != '\n')) {
        return "";
    }
    const size_t end = text->find('\n', at);
    return text->substr(at + 3, end == std::string::npos ? std::string::npos : end - at - 3);
}

// Step 2b, under systemd: the scope, then this process into its leaf "caller" (a delegated
// v2 cgroup takes no process beside its children), and the layout read again with the
// scope as this process's v2 cgroup.
Status enter_systemd_scope(const std::string& name, CgroupLayout& layout) {
    const std::string scope = "fleet-dispatch-" + name + ".scope";
    // The unit's name and mode, 4 properties, no auxiliary units.
    const std::vector<std::string> call = {"busctl",
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
                                           "CollectMode",
                                           "s",
                                           "inactive-or-failed",
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
    // The job runs after the call returns: this process moves once systemd has started it.
    const auto deadline = std::chrono::steady_clock::now() + k_scope_timeout;
    std::string own = own_v2_cgroup();
    while (own.size() < scope.size() + 1 ||
           own.compare(own.size() - scope.size() - 1, std::string::npos, "/" + scope) != 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            return Error{ErrorKind::system, "systemd: " + scope + " never took this process"};
        }
        const timespec pause{0, 10'000'000};
        ::nanosleep(&pause, nullptr);
        own = own_v2_cgroup();
    }
    Result<CgroupLayout> scoped = cgroup_layout();
    if (!scoped) {
        return scoped.error();
    }
    if (const CgroupHierarchy* v2 = scoped->v2()) {
        const std::string caller = v2->path() + "/caller";
        if (::mkdir(caller.c_str(), 0755) != 0) {
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
    Result<RunCgroups> made = create_run_cgroups(*layout, request);
    if (!made) {
        return made.error();
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return system_error("pipe2", errno);
    }
    setup.life_read = Fd(fds[0]);
    setup.life_write = Fd(fds[1]);
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
        if (setup.cgroups) {
            // Made but not watched: removed now (the pipe failed).
            (void)remove_run_cgroups(setup.cgroups->dirs, std::chrono::seconds(1));
            setup.cgroups.reset();
        }
        setup.record.applied = false;
        setup.record.not_applied = made.error().message;
        if (config.limits == LimitsMode::required) {
            return Error{ErrorKind::system, "limits = \"required\", but they cannot be applied: " +
                                                made.error().message};
        }
    }
    return setup;
}

Status enter_run_limits(RunLimitsSetup& limits) {
    limits.life_read.reset();
    const Fd score(::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC));
    if (!score.valid() || write_all(score.get(), std::to_string(limits.oom_score_adj)) != 0) {
        return system_error("set oom_score_adj " + std::to_string(limits.oom_score_adj), errno);
    }
    if (!limits.cgroups) {
        return Ok{};
    }
    std::vector<int> fds;
    for (const Fd& fd : limits.cgroups->runner_join) {
        fds.push_back(fd.get());
    }
    const int error = join_cgroups(fds.data(), fds.size());
    limits.cgroups->runner_join.clear();
    if (error != 0) {
        return system_error("join the run's cgroup " + limits.cgroups->path + "/runner", error);
    }
    return Ok{};
}

Status start_keeper(RunLimitsSetup& limits) {
    if (!limits.cgroups) {
        return Ok{};
    }
    limits.life_write.reset();
    const pid_t keeper = ::fork();
    if (keeper < 0) {
        return system_error("fork the cgroup keeper", errno);
    }
    if (keeper == 0) {
        const int null = ::open("/dev/null", O_RDWR);
        for (int fd = 0; fd < 3 && null >= 0; ++fd) {
            ::dup2(null, fd);
        }
        const int life = limits.life_read.get();
        if (life > 3) {
            ::syscall(SYS_close_range, 3U, static_cast<unsigned>(life - 1), 0U);
        }
        ::syscall(SYS_close_range, static_cast<unsigned>(life + 1), ~0U, 0U);
        keep_run_cgroups(std::move(limits.life_read), limits.cgroups->dirs);
    }
    limits.life_read.reset();
    limits.cgroups.reset();
    return Ok{};
}

} // namespace fleet
