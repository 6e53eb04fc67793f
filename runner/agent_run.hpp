// One agent's life in a run, from its plan to its verdict. Its phase is one enum, advanced in
// one place (advance()), from the facts the event loop reports:
//
//   pending ──start()──> running ──exit──> exited ──leftovers gone──> draining ──pipe EOF──>
//   finished
//      │                    │                 └──leftovers gone, pipe closed already──────────┘
//      └─cancel_pending()───┴─launch failed──────────────────────────────────────────────────┘
//
//   running   its process runs; its pipe is read (wait until readable, read into the run's
//             one buffer, copy to the log and the console: capture.hpp)
//   exited    it has exited (reaped: supervisor.hpp); what it left in its process group and its
//             orphans get SIGTERM at once, SIGKILL after `grace`, polled every 50 ms
//   draining  no leftovers, but its pipe is still open (a descendant that left its group holds
//             it): read until EOF, or closed `grace` + 1 s after the exit
//   finished  the verdict: exit status, the CLI's own judgement of its log (its read_outcome,
//             which must not throw; if it does, the agent fails, never the run), the artifact
//             collected, status final
// Completion is the exit, never pipe EOF (an agent's child may keep the pipe). A timeout or a
// cancel (stop()) sends SIGTERM to the group and SIGKILL after `grace`; its state then sticks
// (timed_out, cancelled) whatever the agent exits with.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include "runner/capture.hpp"
#include "runner/reaper.hpp"
#include "runner/run_store.hpp"
#include "runner/status.hpp"
#include "runner/supervisor.hpp"
#include "sys/fd.hpp"
#include "sys/wait_status.hpp"

namespace fleet {

enum class AgentPhase { pending, running, exited, draining, finished };

// What every agent of a run shares; owned by the supervisor, outliving the agents.
struct AgentRunShared {
    boost::asio::io_context& io;
    const RunDir& run;
    const std::string& run_id;
    spdlog::logger& log;
    Console& console;
    char* buffer;      // k_copy_buffer_size bytes: every agent reads into it, one at a time
    int pipe_capacity; // what each agent's pipe asks for (supervisor.cpp)
    bool prefix_output;
    TrackLastLine track_last_line;
    std::chrono::milliseconds grace;
    int landlock_abi;
    const Fd& prompt; // the sealed prompt (supervisor.cpp)
    const Reaper& reaper;
    // The pids of the agents still running (not orphans of anyone).
    std::function<std::vector<pid_t>()> running_agents;
    // Called when an agent's status changed (written once per event), when its log first
    // failed (the disk may be full: the run's reserve is freed for its status), and when an
    // agent that ran finished (one that never ran is finished when start() or
    // cancel_pending() returns, and its caller knows).
    std::function<void()> changed;
    std::function<void()> log_failed;
    std::function<void()> finished;
};

class AgentRun {
public:
    AgentRun(AgentRunShared& shared, AgentPlan plan, AgentStatus& status);
    AgentRun(const AgentRun&) = delete;
    AgentRun& operator=(const AgentRun&) = delete;

    AgentPhase phase() const { return m_phase; }
    const AgentPlan& plan() const { return m_plan; }
    pid_t pid() const { return m_pid; }

    // pending -> running, or finished when it cannot start (its launch error, spawn_failed);
    // in any other phase nothing.
    void start();
    // pending -> finished, as `state` with `reason`: the run stops, or a cancel, before it ran.
    void cancel_pending(AgentState state, const std::string& reason);
    // running: SIGTERM to its group, SIGKILL after grace; `state` sticks. Else nothing.
    void stop(AgentState state, const std::string& reason);
    // The reaper got its status.
    void on_exit(const ExitStatus& exit);

    LiveAgent live(std::chrono::steady_clock::time_point now) const;

private:
    using Clock = std::chrono::steady_clock;

    // The one place the phase moves: from what is known (exited, leftovers, pipe open).
    void advance();
    Result<pid_t> launch();
    void wait_readable();
    void read_chunk();
    void close_pipe();
    void signal_leftovers(int sig) const;
    bool leftovers() const;
    void poll_cleanup();
    void finish();
    void remove_scratch() const;
    AgentOutcome judge() const;
    std::string log_tail() const;
    void collect_artifact();
    void collect_repo();

    AgentRunShared& m_shared;
    AgentPlan m_plan;
    AgentStatus& m_status;
    AgentPhase m_phase = AgentPhase::pending;
    pid_t m_pid = 0;
    std::optional<AgentOutput> m_output;
    boost::asio::posix::stream_descriptor m_pipe;
    bool m_pipe_open = false;
    boost::asio::steady_timer m_timeout, m_grace, m_poll;
    std::optional<AgentState> m_stop_state; // timed_out or cancelled, once asked to stop
    std::string m_stop_reason;
    std::optional<ExitStatus> m_exit;
    std::string m_exited_at;
    Clock::time_point m_start_time, m_exit_time;
    bool m_gave_up_on_leftovers = false; // KILLed a second ago and still there: not ours to kill
};

} // namespace fleet
