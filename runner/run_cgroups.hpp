// A run's cgroups: one per run, beneath it a leaf per agent, made and limited by root before
// the drop (docs/dispatch.md, "Limits"; docs/design/confinement.md §3).
//
// Where: beneath the cgroup dispatch is in, in each hierarchy the mode uses (sys/cgroup.hpp):
//   <own>/fleet-dispatch/<run>/agent-NAME
//   v2      the one hierarchy: memory, pids and cpu enabled down the path (cgroup.subtree_control
//           of <own>, fleet-dispatch and <run>: no process ever sits in an inner node)
//   hybrid  v1 memory, pids and, when a cpu_max is set, cpu; the v2 hierarchy for tracking,
//           cgroup.kill and cpu.stat
//   v1      memory, pids, cpu (when set), cpuacct (CPU time) and freezer (the kill)
//
// Nothing is delegated to the user. As root, single-threaded, before the drop
// (create_run_cgroups), umask 022 for its directories, each call checked, the first failure
// removing the directories made (controllers enabled in <own> stay enabled) and returned (the run
// then records "limits not applied: WHY", or refuses with limits = "required"):
//   1. mkdir <own>/fleet-dispatch (EEXIST is fine), mkdir <run> (EEXIST is an error: the name
//      carries the runner's pid and a random part), mkdir each leaf, mode 0755: root's
//   2. v2: "+memory +pids +cpu" (what is asked for) into each cgroup.subtree_control down the
//      path; EBUSY when <own> holds processes, which it does unless it is the root cgroup
//      or a delegated scope dispatch has left for its leaf (run_limits.hpp), ENOENT for a
//      controller the kernel or the parent does not offer
//   3. limits into the run's cgroup and each agent's leaf: memory.max (v1 limit_in_bytes, then
//      memsw.limit_in_bytes where swap is accounted) and, v2, memory.swap.max 0 where swap
//      is accounted; on every v2 leaf memory.oom.group 1 (an OOM takes the whole agent, the
//      run's OOM too); pids.max; cpu.max "QUOTA 100000" (v1 cpu.cfs_period_us,
//      cpu.cfs_quota_us)
//   4. opens, O_WRONLY|O_CLOEXEC, each leaf's cgroup.procs in every hierarchy, and cgroup.kill
//      (v2) or freezer.state (v1): the kernel checks write permission at open (and, for
//      cgroup.procs on v2, uses the opener's credentials when the pid is written), so the
//      runner, dropped, can put a child into its leaf and kill a leaf through these fds; the
//      user owns no file in cgroupfs and cannot move a process anywhere. These fds could move
//      any process the runner sees (the run's own, in its PID namespace): the runner is not
//      dumpable (session.hpp), so no agent can ptrace it or take them, and they are
//      close-on-exec
// Each agent's child, between fork and exec, joins its leaf (join_cgroups: "0" into each
// cgroup.procs; spawner.hpp): nothing of the agent runs outside it, its first step is the
// join. The runner stays where it is: it needs no limit. A move takes the kernel's
// cgroup_threadgroup_rwsem for writing, an RCU grace period (the first move of a run: 15 ms
// measured here, bench/limits.sh).
// Not clone3(CLONE_INTO_CGROUP), which would start the child in its v2 leaf without that wait
// (v1 hierarchies have no such flag): the kernel checks the *cloning* process's write access to
// the leaf's cgroup.procs and to the common ancestor's of its own cgroup and the leaf, whoever
// opened the directory (tested: run_cgroups_test CloneIntoTheLeafNeedsTheCallersAccess…). The
// runner, dropped, has none; giving it some means the user owning the run's cgroup.procs files,
// with the runner in a leaf of the run, and then any process of the user, an unconfined agent
// of this run or another, could move the run's processes between its leaves: an agent out of its
// own limit, the runner into an agent's OOM group. A grace period per run is cheaper than that.
// Reading what an agent used needs no privilege: the stat files are world-readable.
//
// Removal is root's again: the keeper (keep_run_cgroups), a root process outside the run's PID
// namespace that holds nothing but the read end of a pipe only the runner writes, waits for
// EOF (the runner is ending, however it ends) and for the runner to be gone (its pid and start
// time no longer a running process: it closes the pipe in its destructors, before it exits,
// and as init of its PID namespace it is gone only once everything in it is), kills what is
// left, waits
// until every leaf is empty (10 s at most each) and removes the leaves, the run's cgroup and,
// when no other run uses it, fleet-dispatch. It reads nothing a user wrote.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "runner/limits.hpp"
#include "sys/cgroup.hpp"
#include "sys/fd.hpp"
#include "sys/result.hpp"

namespace fleet {

struct CgroupRequest {
    std::string name;      // the run's cgroup's name
    Limits run;            // the run's, defaults filled in
    int oom_score_adj = 0; // what the runner, and so every agent, gets (status.json says it)
    // Each agent's own limits (unset: none of its own; the run's still bound it).
    struct Agent {
        std::string name;
        Limits limits;
    };
    std::vector<Agent> agents;
};

// One agent's leaf, as the runner holds it after the drop.
class AgentCgroup {
public:
    // The cgroup.procs fds the child writes "0" to before exec (root opened them).
    const std::vector<int>& join_fds() const { return m_join_raw; }
    // What its leaf enforces (its own limits, else the run's) and the run's oom_score_adj.
    const AgentLimits& limits() const { return m_limits; }
    // What it used: peak memory, CPU time, OOM kills, forks refused. Unreadable parts unset.
    AgentResources resources() const;
    // Whether a process is still in it.
    bool populated() const;
    // SIGKILLs every process in it (sys/cgroup.hpp cgroup_kill); 0 or an errno.
    int kill() const;
    // Sends `sig` to each process its cgroup.procs lists (sys/cgroup.hpp cgroup_signal_each:
    // pids of the reader's namespace, the run's own); 0 or an errno.
    int signal_each(int sig) const;

private:
    friend class CgroupBuilder;

    std::vector<Fd> m_join;
    std::vector<int> m_join_raw;
    Fd m_tracking; // the directory populated() and kill() look at
    bool m_tracking_v2 = false;
    Fd m_kill, m_freezer;
    std::string m_memory, m_pids, m_cpu; // directories of the stat files, "" when none
    bool m_memory_v2 = false, m_cpu_v2 = false;
    AgentLimits m_limits;
};

struct RunCgroups {
    CgroupMode mode = CgroupMode::none;
    std::string path;              // the run's cgroup in its first hierarchy, for status.json
    std::vector<std::string> dirs; // the run's cgroup in each hierarchy: the keeper's
    std::map<std::string, AgentCgroup> agents;
};

// Steps 1 to 4, as root. A limit the layout cannot enforce (no memory controller, a v2 cgroup
// holding processes) is an Error naming it, and nothing is left behind.
Result<RunCgroups> create_run_cgroups(const CgroupLayout& layout, const CgroupRequest& request);

// Writes "0" into each fd (the calling process joins that cgroup). No allocation: also for a
// child between fork and exec. 0 or the errno.
int join_cgroups(const int* fds, size_t count);

// As root: kills what is left in the run's cgroups `dirs`, waits up to `patience` for them to
// empty, and removes them, leaves first, then fleet-dispatch when it is empty. Returns how many
// directories could not be removed (still busy).
int remove_run_cgroups(const std::vector<std::string>& dirs, std::chrono::milliseconds patience);

// The keeper's life: its own session, TERM, INT and HUP ignored; reads `life` until EOF, waits
// (10 s at most) for the runner (`runner`, started at `start_time`) to be gone, then
// remove_run_cgroups(dirs, 10 s) and _exit(0).
[[noreturn]] void keep_run_cgroups(Fd life, const std::vector<std::string>& dirs, pid_t runner,
                                   unsigned long long start_time);

} // namespace fleet
