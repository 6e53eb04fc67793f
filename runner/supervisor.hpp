// Supervisor: runs a run's agents to the end and leaves no process behind. The event loop and
// what is the run's (this file); each agent's life is an AgentRun (agent_run.hpp), reaping and
// the final sweep the Reaper's (reaper.hpp).
//
// One thread, one io_context. For the whole run:
//   prctl(PR_SET_CHILD_SUBREAPER): descendants that setsid() away come back to us when their
//     parent dies, so they can be found and killed;
//   a ballast file (".reserve", 256 KiB) is allocated: if a log hits ENOSPC it is deleted, so
//     status.json can still be written on a full filesystem;
//   signal_set{SIGCHLD, SIGTERM, SIGINT, SIGHUP}: SIGCHLD reaps every child with
//     waitpid(-1, WNOHANG) (agents and orphans alike); TERM/INT/HUP cancel the run;
//   prompt.txt is read once, before any agent runs, into a sealed memfd: each agent's stdin is
//     a fresh open of it (/proc/self/fd/N), never of prompt.txt, which an earlier agent may have
//     replaced or rewritten.
// Every file an agent could have replaced (its log, read back for the verdict, an artifact,
// prompt.txt) is opened as io.hpp's open_regular_at does: no symlink, a FIFO cannot block the
// open, only a regular file within a size cap is read.
// Per agent, up to max_parallel at once:
//   open <agent>.log O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC (fresh, never truncated: truncating
//     big files is slow, docs/design/performance.md §2); pipe2(O_CLOEXEC); spawn
//     (spawner.hpp); close the write end; the read end non-blocking, its capacity 1 MiB
//     (F_SETPIPE_SZ, best effort, smaller when many agents run at once); reads of up to 128 KiB
//     into AgentOutput (capture.hpp), through one buffer shared by all agents.
//   Completion is the process exit (SIGCHLD), never pipe EOF: then its group gets TERM, and
//     so do our children whose environment names this agent (FLEET_DISPATCH_AGENT, which
//     every agent is started with); after `grace`, KILL. The agent is finished when it has
//     exited, its leftovers are gone and its pipe reached EOF (or, if a descendant outside
//     the group keeps it open, `grace` + 1 s after the exit).
//   A timeout (per agent or for the run) or a cancel: TERM to the group, KILL after grace; the
//     state sticks (timed_out/cancelled) whatever the agent exits with.
// At the end: every remaining child gets TERM, then KILL after grace, until none is left;
// status.json gets the final state, then the legacy `status` file the exit code.
// status.json is rewritten atomically (atomic_file.hpp) at every state change: agents started
// together are one change, and the last agent's end is written with the run's end. A run caught
// before its first write reads as running (lock held) or lost.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "base/duration.hpp"
#include "runner/limits.hpp"
#include "runner/run_cgroups.hpp"
#include "runner/run_store.hpp"
#include "runner/status.hpp"

namespace fleet {

struct RepoSource;

struct AgentPlan {
    std::string name; // [a-z0-9_-], also the log's name
    std::string executable;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string workdir;
    bool stdin_prompt = false; // stdin from prompt.txt, else /dev/null
    Duration timeout{0};       // 0: none
    std::string launch_error;  // set when it cannot start (no binary, no workdir)...
    AgentState launch_error_state = AgentState::spawn_failed; // ...and then it is this
    // Reads what the agent said: called with the last 1 MiB of its log and its exit code
    // (unset when a signal ended it) once it has exited; may turn an exit 0 into a failure.
    std::function<AgentOutcome(const std::string& log_tail, std::optional<int> exit_code)> judge;
    std::string artifact; // a file in `workdir` to copy to <run dir>/<name>.<artifact>
    AgentAccess access;   // its confinement (confinement.hpp)
    std::string scratch;  // its temporary directory, removed once it is done; empty: none
    // Its cgroup (run_cgroups.hpp; owned by the caller, outliving the run), or nullptr, and
    // what status.json says of its limits (why none, when none).
    const AgentCgroup* cgroup = nullptr;
    AgentLimits limits;
    // Its repository (agent_repo.hpp; owned by the caller, outliving the run), or nullptr: its
    // work directory is then a clone on `branch`, whose changes are collected after it.
    const RepoSource* repo = nullptr;
    std::string branch;
    std::string prompt_line; // the prompt's first line, for the commit message
};

// Each agent's pipe asks for 1 MiB, and so does a console that is a pipe. With the default
// 64 KiB, an agent that writes faster than its log takes fills the pipe, sleeps, and is woken
// every 64 KiB, and so is the runner: 1 GiB through `cat` took 1.04 s against 0.54 s with a
// 1 MiB pipe, tee 1.14 s (medians of 7, samples settled as bench/dispatch.sh does; its 2 GiB
// figures are in docs/benchmarks.md). Lines written one by one still arrive at once: a write
// into an empty pipe wakes the reader whatever its capacity. Unprivileged, F_SETPIPE_SZ goes
// no higher than fs.pipe-max-size (1 MiB by default; `dispatch doctor` checks it).
constexpr size_t k_pipe_size = size_t{1} << 20;

// What a live display shows of one agent, every tick.
struct LiveAgent {
    std::string name;
    AgentState state = AgentState::pending;
    std::chrono::steady_clock::duration elapsed{};
    uint64_t bytes = 0;
    std::string last_line;
};

struct SupervisorOptions {
    size_t max_parallel = 4;
    Duration run_timeout{0}; // 0: none
    Duration grace{10'000};
    bool prefix_output = false; // "[agent] " before each console line
    int console_fd = 1;         // -1: agent output goes to the logs only
    int landlock_abi = 0;       // the kernel's (sys/landlock.hpp); 0: agents run unconfined
    // Called every 500 ms while the run goes on, and once at its end (live display).
    std::function<void(const std::vector<LiveAgent>&)> on_tick;
};

class Supervisor {
public:
    // `status` is the run's status with one pending AgentStatus per plan, in the same order.
    Supervisor(RunDir& run, RunStatus status, std::vector<AgentPlan> plans,
               const SupervisorOptions& options, spdlog::logger& log);
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Runs to the end; returns dispatch's exit code (also in status().exit_code).
    int run();

    const RunStatus& status() const;

private:
    class Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace fleet
