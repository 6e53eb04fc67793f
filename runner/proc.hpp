// Reading /proc about other processes: what supervision and lost-run detection need.
#pragma once

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace fleet {

// Field 22 of /proc/PID/stat (start time in clock ticks since boot): with the pid it names a
// process uniquely, so a reused pid is never mistaken for the one recorded.
std::optional<unsigned long long> process_start_time(pid_t pid);

// Whether the process PID started at `start_time` still runs: its /proc/PID/stat is there, with
// that start time, and it is no zombie.
bool process_running(pid_t pid, unsigned long long start_time);

// The pids whose parent is the calling process (they include orphans reparented to a
// subreaper). Reads /proc/self/task/*/children, falling back to scanning /proc/*/stat.
std::vector<pid_t> child_processes();

// The value of `name` in the environment PID was started with (/proc/PID/environ), if readable.
std::optional<std::string> environ_value(pid_t pid, const std::string& name);

} // namespace fleet
