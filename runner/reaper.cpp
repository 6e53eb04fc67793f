#include "runner/reaper.hpp"

#include <algorithm>
#include <cerrno>
#include <signal.h>
#include <sys/wait.h>

#include <boost/asio/post.hpp>

#include "runner/proc.hpp"

namespace fleet {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds k_sweep_poll{20};
constexpr std::chrono::seconds k_kill_wait{5};
// Bound on the final sweep's TERM/KILL rounds (each round can only reveal grandchildren).
constexpr int k_max_sweep_rounds = 16;

void signal_each(const std::vector<pid_t>& children, int sig) {
    for (const pid_t child : children) {
        signal_group(child, sig);
        ::kill(child, sig);
    }
}

} // namespace

void signal_group(pid_t pgid, int sig) {
    if (pgid > 0) {
        ::kill(-pgid, sig);
    }
}

bool group_exists(pid_t pgid) {
    return pgid > 0 && (::kill(-pgid, 0) == 0 || errno == EPERM);
}

Reaper::Reaper(boost::asio::io_context& io, spdlog::logger& log, std::chrono::milliseconds grace,
               OnExit on_exit)
    : m_log(log), m_grace(grace), m_on_exit(std::move(on_exit)), m_timer(io) {}

void Reaper::reap() const {
    int wait_status = 0;
    pid_t pid = 0;
    while ((pid = ::waitpid(-1, &wait_status, WNOHANG)) > 0) {
        m_on_exit(pid, decode_wait_status(wait_status));
    }
}

std::vector<pid_t> Reaper::orphans(const std::string& run_id, const std::string& agent,
                                   const std::vector<pid_t>& excluded) const {
    std::vector<pid_t> found;
    for (const pid_t child : child_processes()) {
        if (std::find(excluded.begin(), excluded.end(), child) == excluded.end() &&
            environ_value(child, "FLEET_DISPATCH_AGENT") == agent &&
            environ_value(child, "FLEET_DISPATCH_RUN_ID") == run_id) {
            found.push_back(child);
        }
    }
    return found;
}

void Reaper::sweep(std::function<void()> done) {
    m_done = std::move(done);
    m_rounds = 0;
    // Posted: `done` never runs inside its caller (which may be an exit handler of reap()).
    boost::asio::post(m_timer.get_executor(), [this] { begin_round(); });
}

void Reaper::begin_round() {
    reap();
    m_round = child_processes();
    if (m_round.empty() || m_rounds++ >= k_max_sweep_rounds) {
        m_done();
        return;
    }
    m_log.warn("{} leftover process(es) at the end of the run; SIGTERM", m_round.size());
    signal_each(m_round, SIGTERM);
    wait_terms(Clock::now() + m_grace);
}

void Reaper::after_poll(const std::function<void()>& next) {
    m_timer.expires_after(k_sweep_poll);
    m_timer.async_wait([next](const boost::system::error_code& ec) {
        if (!ec) {
            next();
        }
    });
}

void Reaper::wait_terms(Clock::time_point deadline) {
    reap();
    if (child_processes().empty()) {
        m_done();
        return;
    }
    if (Clock::now() < deadline) {
        after_poll([this, deadline] { wait_terms(deadline); });
        return;
    }
    signal_each(child_processes(), SIGKILL);
    wait_kills(Clock::now() + k_kill_wait);
}

void Reaper::wait_kills(Clock::time_point deadline) {
    // Reaping the KILLed children reparents their own children to us for the next round.
    reap();
    std::vector<pid_t> left = child_processes();
    if (!left.empty() && Clock::now() < deadline) {
        after_poll([this, deadline] { wait_kills(deadline); });
        return;
    }
    std::sort(left.begin(), left.end());
    std::sort(m_round.begin(), m_round.end());
    if (!left.empty() && left == m_round) {
        m_log.error("{} process(es) survive SIGKILL; giving up on them", left.size());
        m_done();
        return;
    }
    begin_round();
}

} // namespace fleet
