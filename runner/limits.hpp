// What a run and each agent may use (memory, processes, CPU), and what status.json says they
// were given and used. The cgroups that enforce it are runner/run_cgroups.hpp's; the config
// keys and defaults are docs/dispatch.md's "Limits".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sys/result.hpp"

namespace fleet {

// `limits`: "auto" (what the host offers, recorded), "required" (a run whose limits cannot be
// applied is refused, exit 3) or "off" (no cgroup is made).
enum class LimitsMode { off, best_effort, required };

// "off", "auto", "required": the config's words.
const char* to_string(LimitsMode mode);

struct Limits {
    std::optional<uint64_t> memory_max; // bytes
    std::optional<uint64_t> pids_max;   // processes and threads
    std::optional<double> cpu_max;      // CPUs: 1.5 is 150 ms of CPU time per 100 ms
};

// Bounds the config accepts: an agent needs a few MiB to start at all; pids.max takes at most
// 2^22 (PID_MAX_LIMIT); cpu.max at most what 1024 CPUs give.
constexpr uint64_t k_min_memory_max = uint64_t{4} << 20;
constexpr uint64_t k_max_pids_max = uint64_t{1} << 22;
constexpr double k_min_cpu_max = 0.01;
constexpr double k_max_cpu_max = 1024;

// The defaults (docs/dispatch.md, "Limits"): a run may use 3/4 of the host's memory, so the
// host's own services keep a quarter even when every agent runs away; an agent at most 2048
// processes and threads (an npm install or a parallel test suite stays far below it, a fork
// bomb stops there), a run 8192; CPU is not capped (a quota idles CPUs a busy host has free).
constexpr uint64_t k_default_agent_pids_max = 2048;
constexpr uint64_t k_default_run_pids_max = 8192;
uint64_t default_run_memory_max(uint64_t mem_total);

// "2G", "512MiB", "64M", "1.5GiB", "1073741824": binary units (K, M, G, T, with or without
// "iB" or "B"), a plain number is bytes. An Error that quotes the text otherwise.
Result<uint64_t> parse_memory_size(std::string_view text);

// "64 MiB", "2 GiB", "1.5 GiB", "512 KiB", "100 B": for messages and the summary.
std::string format_bytes(uint64_t bytes);

// What an agent used, from its cgroup once it is done.
struct AgentResources {
    std::optional<uint64_t> memory_peak; // bytes (v2 memory.peak, v1 max_usage_in_bytes)
    std::optional<double> cpu_seconds;   // user + system, its whole cgroup
    uint64_t oom_kills = 0;              // processes the OOM killer took from it
    uint64_t pids_limit_hits = 0;        // forks refused at pids_max
};

// status.json's "limits" of an agent: what its cgroup was given, or why it had none.
struct AgentLimits {
    bool applied = false;
    std::string not_applied; // why not, when not
    Limits limits;           // what its cgroup enforces (the run's bound it too)
    int oom_score_adj = 0;
};

// The reason an agent failed for, from what its cgroup counted: "out of memory (limit
// 64 MiB)", "process limit (2048)", or "" when neither was hit.
std::string limit_reason(const AgentLimits& limits, const AgentResources& used);

} // namespace fleet
