// Reaping for a runner that is a child subreaper: every child it has (its agents, and the
// orphans they leave, reparented to it) is reaped here, and none outlives the run.
//
//   reap()      waitpid(-1, WNOHANG) until nothing is left to reap; each status to on_exit.
//               Called on SIGCHLD, and by whoever needs the process table current.
//   orphans()   our children that carry an agent's markers (FLEET_DISPATCH_RUN_ID and
//               FLEET_DISPATCH_AGENT in /proc/PID/environ: every agent is started with them),
//               whatever session or group they moved to
//   sweep()     the end of a run, on timers (never a sleep in the event loop): rounds of SIGTERM
//               to every remaining child and its group, up to `grace` for them to go (polled
//               every 20 ms, reaping), then SIGKILL and up to 5 s more; a round whose KILL
//               leaves the same children standing gives up on them (logged); killing can only
//               reveal grandchildren, so at most 16 rounds. `done` once no child is left.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include "sys/wait_status.hpp"

namespace fleet {

// Sends `sig` to a process group and tolerates it being gone already.
void signal_group(pid_t pgid, int sig);

// Whether any process is left in a process group.
bool group_exists(pid_t pgid);

class Reaper {
public:
    using OnExit = std::function<void(pid_t, const ExitStatus&)>;

    Reaper(boost::asio::io_context& io, spdlog::logger& log, std::chrono::milliseconds grace,
           OnExit on_exit);

    void reap() const;

    // Our children started for `agent` of `run_id`, but none of `excluded` (the agents
    // themselves, while they run).
    std::vector<pid_t> orphans(const std::string& run_id, const std::string& agent,
                               const std::vector<pid_t>& excluded) const;

    void sweep(std::function<void()> done);

private:
    void begin_round();
    void wait_terms(std::chrono::steady_clock::time_point deadline);
    void wait_kills(std::chrono::steady_clock::time_point deadline);
    void after_poll(const std::function<void()>& next);

    spdlog::logger& m_log;
    std::chrono::milliseconds m_grace;
    OnExit m_on_exit;
    boost::asio::steady_timer m_timer;
    std::function<void()> m_done;
    std::vector<pid_t> m_round; // the children this round began with
    int m_rounds = 0;
};

} // namespace fleet
