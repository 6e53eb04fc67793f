// cgroups as the kernel offers them here: which hierarchies are mounted, where this process
// is in each, and the few file operations a run needs (docs/design/confinement.md §3).
//
// Modes, from statfs(2) of /sys/fs/cgroup and /proc/self/cgroup:
//   unified  cgroup2 on /sys/fs/cgroup (Ubuntu 22.04+, Debian 11+): one hierarchy, its
//            controllers listed in cgroup.controllers
//   hybrid   a tmpfs of v1 hierarchies (/sys/fs/cgroup/memory, pids, cpu…) and cgroup2 on
//            /sys/fs/cgroup/unified (Ubuntu 20.04, these machines): limits through v1, process
//            tracking, cgroup.kill and cpu.stat through the v2 hierarchy
//   legacy   v1 hierarchies only (Amazon Linux 2): limits and tracking through v1, the kill
//            through the freezer
//   none     nothing mounted (a container without cgroupfs)
// Named v1 hierarchies (name=systemd) are systemd's and never used.
//
// Every function is a checked system call on a path or fd given by the caller; nothing here
// decides policy (runner/run_cgroups.hpp does).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "sys/result.hpp"

namespace fleet {

enum class CgroupMode { none, legacy, hybrid, unified };

// "none", "v1", "hybrid", "v2": status.json's and doctor's words.
const char* to_string(CgroupMode mode);

constexpr const char* k_cgroup_root = "/sys/fs/cgroup";

// One mounted hierarchy and this process's cgroup in it.
struct CgroupHierarchy {
    bool v2 = false;
    std::string controllers; // v1: the mount's controllers ("memory", "cpu,cpuacct"); v2: ""
    std::string mount;       // "/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified"...
    std::string own;         // this process's cgroup there, from /proc/self/cgroup ("/" or "/a/b")

    // mount + own: the directory of this process's cgroup.
    std::string path() const;
    // v1: whether `controller` is one of the mount's.
    bool has(std::string_view controller) const;
};

struct CgroupLayout {
    CgroupMode mode = CgroupMode::none;
    std::vector<CgroupHierarchy> hierarchies; // the v2 one first, when there is one
    std::vector<std::string> v2_controllers;  // cgroup.controllers of this process's v2 cgroup

    const CgroupHierarchy* v2() const;
    const CgroupHierarchy* v1(std::string_view controller) const;
};

// One "ID:CONTROLLERS:PATH" line of /proc/PID/cgroup: "" for v2, "memory", "cpu,cpuacct",
// "name=systemd"; the cgroup's path in that hierarchy.
struct CgroupMembership {
    std::string controllers;
    std::string path;
};

// Every well-formed line of a /proc/PID/cgroup text.
std::vector<CgroupMembership> cgroup_memberships(std::string_view text);

// Reads the layout. `root` and `self` are for tests; an unreadable /proc/self/cgroup is an
// Error, a host without cgroupfs is mode none.
Result<CgroupLayout> cgroup_layout(const std::string& root = k_cgroup_root,
                                   const std::string& self = "/proc/self/cgroup");

// Writes `value` to `file` in the cgroup directory `dir_fd` (O_WRONLY|O_CLOEXEC, one write:
// cgroupfs takes each write whole). The error names the file and the errno.
Status cgroup_write(int dir_fd, const std::string& file, std::string_view value);

// Reads `file` of the cgroup directory `dir_fd` (at most 64 KiB).
Result<std::string> cgroup_read(int dir_fd, const std::string& file);

// The number after `key ` in a flat-keyed file ("oom_kill 2\n", "populated 0\n"); nullopt when
// the key is not there.
std::optional<uint64_t> cgroup_key(std::string_view text, std::string_view key);

// The pids in a cgroup.procs text, as the reader's PID namespace names them.
std::vector<pid_t> cgroup_pids(std::string_view text);

// Whether the cgroup `dir_fd` holds a process: v2 cgroup.events `populated`, v1 a pid in its
// cgroup.procs (v1 children are not looked at: a run's leaves have none). Unreadable: true.
bool cgroup_populated(int dir_fd, bool v2);

// What kills a cgroup's processes: fds opened by whoever may write them (root, for a runner
// that has dropped: the kernel checks cgroup.kill and freezer.state at open).
struct CgroupKill {
    int dir_fd = -1;     // the cgroup's directory: its cgroup.procs is read (world-readable)
    int kill_fd = -1;    // v2: its cgroup.kill, or -1
    int freezer_fd = -1; // v1: its freezer.state, or -1
};

// Sends `sig` to each pid of the cgroup.procs of `dir_fd` (world-readable; pids as the
// reader's namespace names them). 0, or the errno of an unreadable list or a failed kill
// (ESRCH, gone in between, is none).
int cgroup_signal_each(int dir_fd, int sig);

// SIGKILLs every process in the cgroup:
//   cgroup.kill  "1" (5.14; the subtree, processes forked during the kill included)
//   freezer      FROZEN, kill each pid of cgroup.procs, THAWED (a frozen process can neither
//                fork nor exit, so no pid is reused in between)
//   neither      kill each pid of cgroup.procs (a forking process is caught by the caller's
//                next round)
// Returns 0 or the errno of the first failure (ESRCH of a kill is not one).
int cgroup_kill(const CgroupKill& target);

} // namespace fleet
