#include "runner/run_cgroups.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner/proc.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

constexpr const char* k_base = "fleet-dispatch";
constexpr uint64_t k_cpu_period_us = 100'000;
constexpr std::chrono::seconds k_keeper_patience{10};

std::string leaf_name(const std::string& agent) {
    return "agent-" + agent;
}

bool exists(const std::string& path) {
    struct stat info {};
    return ::lstat(path.c_str(), &info) == 0;
}

Status write_file(const std::string& dir, const std::string& file, const std::string& value) {
    const Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
        return system_error("open " + dir, errno);
    }
    Status written = cgroup_write(fd.get(), file, value);
    if (!written) {
        return Error{ErrorKind::system, dir + ": " + written.error().message};
    }
    return written;
}

Result<Fd> open_file(const std::string& path, int flags) {
    Fd fd(::open(path.c_str(), flags | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
        return system_error("open " + path, errno);
    }
    return fd;
}

std::optional<uint64_t> read_number(const std::string& path) {
    Result<std::string> text = read_file_at(AT_FDCWD, path, 4096);
    if (!text || text->empty() || std::isdigit(static_cast<unsigned char>((*text)[0])) == 0) {
        return std::nullopt;
    }
    return std::strtoull(text->c_str(), nullptr, 10);
}

std::optional<uint64_t> read_key(const std::string& path, std::string_view key) {
    Result<std::string> text = read_file_at(AT_FDCWD, path, 1 << 16);
    return text ? cgroup_key(*text, key) : std::nullopt;
}

std::optional<uint64_t> smaller(std::optional<uint64_t> a, std::optional<uint64_t> b) {
    return a && b ? std::min(*a, *b) : a ? a : b;
}

} // namespace

// Steps 1 to 4 for one request; what it made is undone when it fails.
class CgroupBuilder {
public:
    CgroupBuilder(const CgroupLayout& layout, const CgroupRequest& request)
        : m_layout(layout), m_request(request) {}
    CgroupBuilder(const CgroupBuilder&) = delete;
    CgroupBuilder& operator=(const CgroupBuilder&) = delete;
    ~CgroupBuilder() {
        for (auto dir = m_made.rbegin(); dir != m_made.rend(); ++dir) {
            ::rmdir(dir->c_str());
        }
    }

    Result<RunCgroups> build();

private:
    bool wants_cpu() const;
    Status choose_hierarchies();
    Status enable_v2_controllers(const std::string& base, const std::string& run);
    Status write_limits(const std::string& dir, const CgroupHierarchy& hierarchy,
                        const Limits& limits, bool leaf) const;
    Status make_tree(const CgroupHierarchy& hierarchy);
    Result<AgentCgroup> open_agent(const CgroupRequest::Agent& agent) const;
    std::string leaf(const CgroupHierarchy& hierarchy, const std::string& name) const {
        return hierarchy.path() + "/" + k_base + "/" + m_request.name + "/" + name;
    }

    const CgroupLayout& m_layout;
    const CgroupRequest& m_request;
    std::vector<const CgroupHierarchy*> m_used;
    const CgroupHierarchy* m_memory = nullptr;
    const CgroupHierarchy* m_pids = nullptr;
    const CgroupHierarchy* m_cpu = nullptr;
    const CgroupHierarchy* m_cpu_time = nullptr; // cpu.stat (v2) or cpuacct.usage
    const CgroupHierarchy* m_freezer = nullptr;
    std::vector<std::string> m_made;
    std::vector<std::string> m_run_dirs;
};

bool CgroupBuilder::wants_cpu() const {
    return m_request.run.cpu_max ||
           std::any_of(m_request.agents.begin(), m_request.agents.end(),
                       [](const CgroupRequest::Agent& agent) { return agent.limits.cpu_max; });
}

Status CgroupBuilder::choose_hierarchies() {
    const CgroupHierarchy* v2 = m_layout.v2();
    if (m_layout.mode == CgroupMode::none) {
        return Error{ErrorKind::system, "no cgroup hierarchy is mounted on /sys/fs/cgroup"};
    }
    if (m_layout.mode == CgroupMode::unified) {
        if (v2 == nullptr) {
            return Error{ErrorKind::system, "no v2 hierarchy in /proc/self/cgroup"};
        }
        const auto offered = [&](const char* controller) {
            return std::find(m_layout.v2_controllers.begin(), m_layout.v2_controllers.end(),
                             controller) != m_layout.v2_controllers.end();
        };
        for (const char* controller : {"memory", "pids", "cpu"}) {
            if ((std::strcmp(controller, "cpu") != 0 || wants_cpu()) && !offered(controller)) {
                return Error{ErrorKind::system,
                             std::string("no ") + controller + " controller in " + v2->path()};
            }
        }
        m_memory = m_pids = m_cpu_time = v2;
        m_cpu = wants_cpu() ? v2 : nullptr;
        m_used = {v2};
        return Ok{};
    }
    m_memory = m_layout.v1("memory");
    m_pids = m_layout.v1("pids");
    m_cpu = wants_cpu() ? m_layout.v1("cpu") : nullptr;
    for (const auto& [found, name] : {std::pair{m_memory, "memory"}, std::pair{m_pids, "pids"}}) {
        if (found == nullptr) {
            return Error{ErrorKind::system, std::string("no v1 ") + name + " hierarchy"};
        }
    }
    if (wants_cpu() && m_cpu == nullptr) {
        return Error{ErrorKind::system, "no v1 cpu hierarchy (cpu_max)"};
    }
    m_cpu_time = v2 != nullptr ? v2 : m_layout.v1("cpuacct");
    // The kill: v2's cgroup.kill (5.14), else the v1 freezer.
    m_freezer =
        v2 != nullptr && exists(v2->path() + "/cgroup.kill") ? nullptr : m_layout.v1("freezer");
    for (const CgroupHierarchy* hierarchy : {v2, m_memory, m_pids, m_cpu, m_cpu_time, m_freezer}) {
        if (hierarchy != nullptr &&
            std::find(m_used.begin(), m_used.end(), hierarchy) == m_used.end()) {
            m_used.push_back(hierarchy);
        }
    }
    return Ok{};
}

Status CgroupBuilder::enable_v2_controllers(const std::string& base, const std::string& run) {
    std::string wanted = "+memory +pids";
    if (m_cpu != nullptr) {
        wanted += " +cpu";
    }
    for (const std::string& dir : {m_memory->path(), base, run}) {
        if (Status enabled = write_file(dir, "cgroup.subtree_control", wanted); !enabled) {
            return enabled;
        }
    }
    return Ok{};
}

Status CgroupBuilder::write_limits(const std::string& dir, const CgroupHierarchy& hierarchy,
                                   const Limits& limits, bool leaf) const {
    std::vector<std::pair<std::string, std::string>> files;
    if (&hierarchy == m_memory && limits.memory_max) {
        const std::string bytes = std::to_string(*limits.memory_max);
        if (hierarchy.v2) {
            files.emplace_back("memory.max", bytes);
            files.emplace_back("memory.swap.max", "0");
        } else {
            files.emplace_back("memory.limit_in_bytes", bytes);
            files.emplace_back("memory.memsw.limit_in_bytes", bytes);
        }
    }
    if (&hierarchy == m_memory && hierarchy.v2 && leaf) {
        files.emplace_back("memory.oom.group", "1");
    }
    if (&hierarchy == m_pids && limits.pids_max) {
        files.emplace_back("pids.max", std::to_string(*limits.pids_max));
    }
    if (&hierarchy == m_cpu && limits.cpu_max) {
        const auto quota = std::max<uint64_t>(
            1000, static_cast<uint64_t>(*limits.cpu_max * static_cast<double>(k_cpu_period_us)));
        if (hierarchy.v2) {
            files.emplace_back("cpu.max",
                               std::to_string(quota) + " " + std::to_string(k_cpu_period_us));
        } else {
            files.emplace_back("cpu.cfs_period_us", std::to_string(k_cpu_period_us));
            files.emplace_back("cpu.cfs_quota_us", std::to_string(quota));
        }
    }
    for (const auto& [file, value] : files) {
        // Swap files exist only where swap is accounted: their absence is no failure.
        const bool optional = file == "memory.swap.max" || file == "memory.memsw.limit_in_bytes";
        if (optional && !exists(dir + "/" + file)) {
            continue;
        }
        if (Status written = write_file(dir, file, value); !written) {
            return written;
        }
    }
    return Ok{};
}

Status CgroupBuilder::make_tree(const CgroupHierarchy& hierarchy) {
    const std::string base = hierarchy.path() + "/" + k_base;
    const std::string run = base + "/" + m_request.name;
    // Another run's keeper removes fleet-dispatch when it holds no run: between our mkdir of
    // it and of ours, ENOENT, and another round.
    int made = -1;
    for (int round = 0; round < 3 && made != 0; ++round) {
        if (::mkdir(base.c_str(), 0755) == 0) {
            m_made.push_back(base);
        } else if (errno != EEXIST) {
            return system_error("mkdir " + base, errno);
        }
        made = ::mkdir(run.c_str(), 0755);
        if (made != 0 && errno != ENOENT) {
            break;
        }
    }
    if (made != 0) {
        return system_error("mkdir " + run, errno);
    }
    m_made.push_back(run);
    m_run_dirs.push_back(run);
    if (hierarchy.v2 && m_layout.mode == CgroupMode::unified) {
        if (Status enabled = enable_v2_controllers(base, run); !enabled) {
            return enabled;
        }
    }
    if (Status limited = write_limits(run, hierarchy, m_request.run, false); !limited) {
        return limited;
    }
    for (const CgroupRequest::Agent& agent : m_request.agents) {
        const std::string dir = run + "/" + leaf_name(agent.name);
        if (::mkdir(dir.c_str(), 0755) != 0) {
            return system_error("mkdir " + dir, errno);
        }
        m_made.push_back(dir);
        if (Status limited = write_limits(dir, hierarchy, agent.limits, true); !limited) {
            return limited;
        }
    }
    return Ok{};
}

Result<AgentCgroup> CgroupBuilder::open_agent(const CgroupRequest::Agent& agent) const {
    AgentCgroup cgroup;
    const std::string name = leaf_name(agent.name);
    for (const CgroupHierarchy* hierarchy : m_used) {
        Result<Fd> procs = open_file(leaf(*hierarchy, name) + "/cgroup.procs", O_WRONLY);
        if (!procs) {
            return procs.error();
        }
        cgroup.m_join_raw.push_back(procs->get());
        cgroup.m_join.push_back(std::move(*procs));
    }
    const CgroupHierarchy* tracking = m_freezer != nullptr       ? m_freezer
                                      : m_layout.v2() != nullptr ? m_layout.v2()
                                                                 : m_memory;
    const std::string tracked = leaf(*tracking, name);
    Result<Fd> dir = open_file(tracked, O_RDONLY | O_DIRECTORY);
    if (!dir) {
        return dir.error();
    }
    cgroup.m_tracking = std::move(*dir);
    cgroup.m_tracking_v2 = tracking->v2;
    const std::string control = tracking->v2 ? "/cgroup.kill" : "/freezer.state";
    if (tracking != m_memory && exists(tracked + control)) {
        Result<Fd> fd = open_file(tracked + control, tracking->v2 ? O_WRONLY : O_RDWR);
        if (!fd) {
            return fd.error();
        }
        (tracking->v2 ? cgroup.m_kill : cgroup.m_freezer) = std::move(*fd);
    }
    cgroup.m_memory = leaf(*m_memory, name);
    cgroup.m_memory_v2 = m_memory->v2;
    cgroup.m_pids = leaf(*m_pids, name);
    cgroup.m_cpu = m_cpu_time != nullptr ? leaf(*m_cpu_time, name) : "";
    cgroup.m_cpu_v2 = m_cpu_time != nullptr && m_cpu_time->v2;
    cgroup.m_limits.applied = true;
    cgroup.m_limits.limits.memory_max = smaller(agent.limits.memory_max, m_request.run.memory_max);
    cgroup.m_limits.limits.pids_max = smaller(agent.limits.pids_max, m_request.run.pids_max);
    cgroup.m_limits.limits.cpu_max = agent.limits.cpu_max && m_request.run.cpu_max
                                         ? std::min(*agent.limits.cpu_max, *m_request.run.cpu_max)
                                     : agent.limits.cpu_max ? agent.limits.cpu_max
                                                            : m_request.run.cpu_max;
    cgroup.m_limits.oom_score_adj = m_request.oom_score_adj;
    return cgroup;
}

Result<RunCgroups> CgroupBuilder::build() {
    // Root's umask must not make the directories unreadable to the runner.
    struct Umask {
        mode_t saved = ::umask(022);
        ~Umask() { ::umask(saved); }
    } umask;
    if (Status chosen = choose_hierarchies(); !chosen) {
        return chosen.error();
    }
    RunCgroups run;
    run.mode = m_layout.mode;
    for (const CgroupHierarchy* hierarchy : m_used) {
        if (Status made = make_tree(*hierarchy); !made) {
            return made.error();
        }
    }
    for (const CgroupRequest::Agent& agent : m_request.agents) {
        Result<AgentCgroup> opened = open_agent(agent);
        if (!opened) {
            return opened.error();
        }
        run.agents.emplace(agent.name, std::move(*opened));
    }
    run.path = m_run_dirs.front();
    run.dirs = m_run_dirs;
    m_made.clear(); // built: the keeper removes them
    return run;
}

Result<RunCgroups> create_run_cgroups(const CgroupLayout& layout, const CgroupRequest& request) {
    CgroupBuilder builder(layout, request);
    return builder.build();
}

AgentResources AgentCgroup::resources() const {
    AgentResources used;
    if (m_memory_v2) {
        used.memory_peak = read_number(m_memory + "/memory.peak");
        used.oom_kills = read_key(m_memory + "/memory.events", "oom_kill").value_or(0);
    } else {
        used.memory_peak = read_number(m_memory + "/memory.max_usage_in_bytes");
        used.oom_kills = read_key(m_memory + "/memory.oom_control", "oom_kill").value_or(0);
    }
    // Since 6.12 v2 counts a refused fork where the limit is (the run's, perhaps): the local
    // count is the leaf's own refusals.
    const std::string events =
        exists(m_pids + "/pids.events.local") ? "/pids.events.local" : "/pids.events";
    used.pids_limit_hits = read_key(m_pids + events, "max").value_or(0);
    if (m_cpu_v2) {
        if (const auto usec = read_key(m_cpu + "/cpu.stat", "usage_usec")) {
            used.cpu_seconds = static_cast<double>(*usec) / 1e6;
        }
    } else if (!m_cpu.empty()) {
        if (const auto nsec = read_number(m_cpu + "/cpuacct.usage")) {
            used.cpu_seconds = static_cast<double>(*nsec) / 1e9;
        }
    }
    return used;
}

bool AgentCgroup::populated() const {
    return cgroup_populated(m_tracking.get(), m_tracking_v2);
}

int AgentCgroup::kill() const {
    return cgroup_kill(CgroupKill{m_tracking.get(), m_kill.get(), m_freezer.get()});
}

int AgentCgroup::signal_each(int sig) const {
    return cgroup_signal_each(m_tracking.get(), sig);
}

int join_cgroups(const int* fds, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        if (::write(fds[i], "0", 1) < 0) {
            return errno;
        }
    }
    return 0;
}

namespace {

std::vector<std::string> subdirectories(const std::string& dir) {
    std::vector<std::string> names;
    DIR* stream = ::opendir(dir.c_str());
    if (stream == nullptr) {
        return names;
    }
    while (const dirent* entry = ::readdir(stream)) {
        if (entry->d_type == DT_DIR && std::strcmp(entry->d_name, ".") != 0 &&
            std::strcmp(entry->d_name, "..") != 0) {
            names.push_back(dir + "/" + entry->d_name);
        }
    }
    ::closedir(stream);
    return names;
}

// Whether `dir` (a run's cgroup in one hierarchy) can kill its subtree without naming pids.
bool kills_whole(const std::string& dir) {
    return exists(dir + "/cgroup.kill") || exists(dir + "/freezer.state");
}

// Kills what is in `dir`'s subtree, as root: cgroup.kill, else each leaf frozen, its pids
// killed, thawed; pids alone only where no hierarchy of the run can do either (`named`).
void kill_subtree(const std::string& dir, bool named) {
    if (exists(dir + "/cgroup.kill") && write_file(dir, "cgroup.kill", "1")) {
        return;
    }
    if (!named && !exists(dir + "/freezer.state")) {
        return;
    }
    for (const std::string& leaf : subdirectories(dir)) {
        const Fd tracking(::open(leaf.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        const Fd freezer(::open((leaf + "/freezer.state").c_str(), O_RDWR | O_CLOEXEC));
        (void)cgroup_kill(CgroupKill{tracking.get(), -1, freezer.get()});
    }
}

bool subtree_empty(const std::string& dir) {
    const bool v2 = exists(dir + "/cgroup.events");
    for (const std::string& leaf : subdirectories(dir)) {
        const Fd fd(::open(leaf.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (fd.valid() && cgroup_populated(fd.get(), v2)) {
            return false;
        }
    }
    return true;
}

} // namespace

int remove_run_cgroups(const std::vector<std::string>& dirs, std::chrono::milliseconds patience) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    // By pid only where nothing else can: a pid read from cgroup.procs of a process that is
    // not frozen may be reused before the kill.
    const bool named = std::none_of(dirs.begin(), dirs.end(), kills_whole);
    for (const std::string& dir : dirs) {
        kill_subtree(dir, named);
    }
    for (const std::string& dir : dirs) {
        while (!subtree_empty(dir) && std::chrono::steady_clock::now() < deadline) {
            kill_subtree(dir, named);
            const timespec pause{0, 20'000'000};
            ::nanosleep(&pause, nullptr);
        }
    }
    int busy = 0;
    for (const std::string& dir : dirs) {
        for (const std::string& leaf : subdirectories(dir)) {
            busy += ::rmdir(leaf.c_str()) == 0 ? 0 : 1;
        }
        busy += ::rmdir(dir.c_str()) == 0 ? 0 : 1;
        // Another run's cgroups keep it: ENOTEMPTY or EBUSY then, and that is no failure.
        (void)::rmdir(dir.substr(0, dir.rfind('/')).c_str());
    }
    return busy;
}

void keep_run_cgroups(Fd life, const std::vector<std::string>& dirs, pid_t runner,
                      unsigned long long start_time) {
    (void)::setsid();
    for (const int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) {
        ::signal(sig, SIG_IGN);
    }
    // Only EOF ends the wait: the runner writes nothing, so a read returns when it is gone.
    char byte = 0;
    for (;;) {
        const ssize_t got = ::read(life.get(), &byte, 1);
        if (got == 0 || (got < 0 && errno != EINTR)) {
            break;
        }
    }
    // The runner closes its end while it exits (its destructors run first): what it leaves is
    // killed once it is gone, so that its own end (the agents' last status) is never cut short.
    const auto deadline = std::chrono::steady_clock::now() + k_keeper_patience;
    while (process_running(runner, start_time) && std::chrono::steady_clock::now() < deadline) {
        const timespec pause{0, 10'000'000};
        ::nanosleep(&pause, nullptr);
    }
    (void)remove_run_cgroups(dirs, k_keeper_patience);
    ::_exit(0);
}

} // namespace fleet
