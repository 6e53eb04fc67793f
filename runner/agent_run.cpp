#include "runner/agent_run.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <limits>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include "base/atomic_file.hpp"
#include "base/clock.hpp"
#include "runner/agent_repo.hpp"
#include "runner/spawner.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

namespace asio = boost::asio;

// How often leftover processes are checked while an agent is being cleaned up.
constexpr std::chrono::milliseconds k_cleanup_poll{50};
// After an agent exits, how long past `grace` its pipe may stay open (held by a descendant
// that left its process group) before we stop reading it.
constexpr std::chrono::milliseconds k_drain_extra{1000};
// How much of a log's end the agent's judge reads, and the largest artifact collected.
constexpr off_t k_judged_tail = 1 << 20;
constexpr size_t k_max_artifact = 4 << 20;

std::string now_timestamp() {
    return format_timestamp(std::chrono::system_clock::now());
}

} // namespace

AgentRun::AgentRun(AgentRunShared& shared, AgentPlan plan, AgentStatus& status)
    : m_shared(shared), m_plan(std::move(plan)), m_status(status), m_pipe(shared.io),
      m_timeout(shared.io), m_grace(shared.io), m_poll(shared.io) {}

void AgentRun::start() {
    if (m_phase != AgentPhase::pending) {
        return;
    }
    m_status.started_at = now_timestamp();
    m_status.log = m_shared.run.path + "/" + m_plan.name + ".log";
    Result<pid_t> started = m_plan.launch_error.empty()
                                ? launch()
                                : Result<pid_t>(Error{ErrorKind::system, m_plan.launch_error});
    if (!started) {
        m_status.state =
            m_plan.launch_error.empty() ? AgentState::spawn_failed : m_plan.launch_error_state;
        m_status.reason = started.error().message;
        m_status.finished_at = now_timestamp();
        m_phase = AgentPhase::finished;
        m_shared.log.error("agent {}: {}", m_plan.name, m_status.reason);
        remove_scratch();
        return;
    }
    m_pid = *started;
    m_start_time = Clock::now();
    m_status.pid = m_pid;
    m_status.state = AgentState::running;
    m_phase = AgentPhase::running;
    m_shared.log.info("agent {}: started pid {} ({})", m_plan.name, m_pid, m_plan.executable);
    wait_readable();
    if (m_plan.timeout.count() > 0) {
        m_timeout.expires_after(m_plan.timeout);
        m_timeout.async_wait([this](const boost::system::error_code& ec) {
            if (!ec && m_phase == AgentPhase::running) {
                m_shared.log.warn("agent {}: timed out after {}", m_plan.name,
                                  format_duration(m_plan.timeout));
                stop(AgentState::timed_out, "timed out after " + format_duration(m_plan.timeout));
            }
        });
    }
}

void AgentRun::cancel_pending(AgentState state, const std::string& reason) {
    if (m_phase != AgentPhase::pending) {
        return;
    }
    m_status.state = state;
    m_status.reason = reason;
    m_phase = AgentPhase::finished;
    remove_scratch();
    m_shared.changed();
}

void AgentRun::stop(AgentState state, const std::string& reason) {
    if (m_phase != AgentPhase::running || m_stop_state) {
        return;
    }
    m_stop_state = state;
    m_stop_reason = reason;
    signal_group(m_pid, SIGTERM);
    m_grace.expires_after(m_shared.grace);
    m_grace.async_wait([this](const boost::system::error_code& ec) {
        if (!ec && m_phase == AgentPhase::running) {
            m_shared.log.warn("agent {}: still running after {}; SIGKILL", m_plan.name,
                              format_duration(m_shared.grace));
            signal_group(m_pid, SIGKILL);
        }
    });
}

void AgentRun::on_exit(const ExitStatus& exit) {
    if (m_phase != AgentPhase::running) {
        return;
    }
    m_exit = exit;
    m_exited_at = now_timestamp();
    m_exit_time = Clock::now();
    m_timeout.cancel();
    m_shared.log.info("agent {}: {}", m_plan.name, describe(exit));
    // Whatever it left behind gets TERM now and KILL after the grace period.
    signal_leftovers(SIGTERM);
    m_grace.expires_after(m_shared.grace);
    m_grace.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) {
            signal_leftovers(SIGKILL);
        }
    });
    advance();
    if (m_phase != AgentPhase::finished) {
        poll_cleanup();
    }
}

void AgentRun::advance() {
    if (m_phase == AgentPhase::running && m_exit) {
        m_phase = AgentPhase::exited;
    }
    if (m_phase == AgentPhase::exited && (m_gave_up_on_leftovers || !leftovers())) {
        m_grace.cancel();
        m_phase = AgentPhase::draining;
    }
    if (m_phase == AgentPhase::draining && !m_pipe_open) {
        finish();
    }
}

// The last steps before exec are the spawner's (spawner.hpp); here: the log (fresh, never
// truncated: truncating big files is slow), the sealed prompt on stdin (a fresh open file
// description of the memfd, so each agent reads it from its start, never prompt.txt, which an
// agent started earlier could have replaced or rewritten by now), the pipe.
Result<pid_t> AgentRun::launch() {
    const std::string log_name = m_plan.name + ".log";
    Fd log(::openat(m_shared.run.dir.get(), log_name.c_str(),
                    O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!log.valid()) {
        return system_error("create " + log_name, errno);
    }
    Fd input(m_plan.stdin_prompt
                 ? ::open(("/proc/self/fd/" + std::to_string(m_shared.prompt.get())).c_str(),
                          O_RDONLY | O_CLOEXEC)
                 : ::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!input.valid()) {
        return system_error("open stdin for " + m_plan.name, errno);
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return system_error("pipe2", errno);
    }
    Fd read_end(fds[0]);
    const Fd write_end(fds[1]);
    // Only our end is non-blocking (the agent's stdout must stay blocking); a larger pipe is an
    // optimisation, so a refusal (EPERM: over pipe-max-size or the user's allowance) leaves
    // the default.
    const int flags = ::fcntl(read_end.get(), F_GETFL);
    if (flags < 0 || ::fcntl(read_end.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
        return system_error("fcntl(O_NONBLOCK) on the output pipe", errno);
    }
    if (const int error = grow_pipe(read_end.get(), static_cast<size_t>(m_shared.pipe_capacity));
        error != 0) {
        m_shared.log.info("agent {}: output pipe keeps its size: F_SETPIPE_SZ {}: {}", m_plan.name,
                          m_shared.pipe_capacity, std::strerror(error));
    }
    Result<PreparedConfinement> confinement =
        prepare_confinement(m_plan.access, m_shared.landlock_abi);
    if (!confinement) {
        return Error{ErrorKind::system, "confinement: " + confinement.error().message};
    }
    m_status.confinement = confinement->record;
    SpawnRequest request;
    request.landlock_fd = confinement->ruleset ? confinement->ruleset->fd() : -1;
    if (m_plan.cgroup != nullptr) {
        request.cgroup_fds = m_plan.cgroup->join_fds();
    }
    m_status.limits = m_plan.limits;
    request.executable = m_plan.executable;
    request.args = m_plan.args;
    request.env = m_plan.env;
    request.workdir = m_plan.workdir;
    request.stdin_fd = input.get();
    request.output_fd = write_end.get();
    // TERM, not KILL, when dispatch dies: the agent may still stop the processes it started.
    request.death_signal = SIGTERM;
    Result<pid_t> pid = spawn(m_shared.io, request);
    if (!pid) {
        return pid;
    }
    m_output.emplace(std::move(log),
                     m_shared.prefix_output && m_shared.console.fd() >= 0 ? "[" + m_plan.name + "] "
                                                                          : "",
                     m_shared.track_last_line);
    m_pipe.assign(read_end.release());
    m_pipe_open = true;
    return pid;
}

// Reading the pipe: wait until it is readable, read once. Asio re-arms the fd (EPOLL_CTL_MOD)
// for every wait, so a pipe with data left completes the wait at once; but after a read that
// filled the buffer, where more is likely, the next read is posted behind the other agents'
// handlers instead, without that round trip. Every handler consumes its chunk before it
// returns, so all agents share one buffer.
void AgentRun::wait_readable() {
    m_pipe.async_wait(asio::posix::descriptor_base::wait_read,
                      [this](const boost::system::error_code& ec) {
                          if (!m_pipe_open) {
                              return; // closed meanwhile
                          }
                          if (ec) {
                              close_pipe();
                              advance();
                          } else {
                              read_chunk();
                          }
                      });
}

void AgentRun::read_chunk() {
    ssize_t n = 0;
    do {
        n = ::read(m_pipe.native_handle(), m_shared.buffer, k_copy_buffer_size);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) {
        wait_readable();
        return;
    }
    if (n < 0) {
        m_shared.log.error("agent {}: read output pipe: {}", m_plan.name, std::strerror(errno));
    }
    if (n <= 0) {
        close_pipe();
        advance();
        return;
    }
    if (m_output->consume({m_shared.buffer, static_cast<size_t>(n)}, m_shared.console)) {
        m_status.log_error = m_output->log_error();
        m_shared.log.error("agent {}: {}", m_plan.name, m_status.log_error);
        m_shared.log_failed();
    }
    if (static_cast<size_t>(n) < k_copy_buffer_size) {
        wait_readable();
        return;
    }
    asio::post(m_shared.io, [this] {
        if (m_pipe_open) {
            read_chunk();
        }
    });
}

void AgentRun::close_pipe() {
    if (m_pipe_open) {
        m_pipe_open = false;
        boost::system::error_code ignored;
        m_pipe.close(ignored);
    }
}

void AgentRun::signal_leftovers(int sig) const {
    signal_group(m_pid, sig);
    // Its cgroup holds what left both its group and its markers (a daemon with a clean
    // environment): TERM to each, KILL to the whole cgroup.
    if (m_plan.cgroup != nullptr) {
        if (const int error =
                sig == SIGKILL ? m_plan.cgroup->kill() : m_plan.cgroup->signal_each(sig);
            error != 0) {
            m_shared.log.error("agent {}: signal its cgroup: {}", m_plan.name,
                               std::strerror(error));
        }
    }
    for (const pid_t orphan :
         m_shared.reaper.orphans(m_shared.run_id, m_plan.name, m_shared.running_agents())) {
        signal_group(orphan, sig);
        ::kill(orphan, sig);
    }
}

bool AgentRun::leftovers() const {
    return group_exists(m_pid) || (m_plan.cgroup != nullptr && m_plan.cgroup->populated()) ||
           !m_shared.reaper.orphans(m_shared.run_id, m_plan.name, m_shared.running_agents())
                .empty();
}

void AgentRun::poll_cleanup() {
    m_shared.reaper.reap();
    if (m_phase == AgentPhase::finished) {
        return;
    }
    const bool drain_over = Clock::now() - m_exit_time > m_shared.grace + k_drain_extra;
    if (drain_over && m_phase == AgentPhase::exited && !m_gave_up_on_leftovers) {
        // KILL was sent a second ago; what still stands cannot be signalled by us (EPERM).
        // Stop waiting for it; the final sweep tries once more.
        m_shared.log.error("agent {}: leftover processes survive SIGKILL", m_plan.name);
        m_gave_up_on_leftovers = true;
    }
    if (drain_over && m_pipe_open) {
        m_shared.log.warn("agent {}: output pipe still open after exit; closing it", m_plan.name);
        close_pipe();
    }
    advance();
    if (m_phase == AgentPhase::finished) {
        return;
    }
    m_poll.expires_after(k_cleanup_poll);
    m_poll.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) {
            poll_cleanup();
        }
    });
}

void AgentRun::finish() {
    m_phase = AgentPhase::finished;
    m_grace.cancel();
    m_poll.cancel();
    m_output->finish(m_shared.console);
    const ExitStatus& exit = *m_exit;
    if (exit.exited) {
        m_status.exit_code = exit.code;
    } else {
        m_status.signal = exit.signal;
        m_status.core_dumped = exit.core_dumped;
    }
    const AgentOutcome outcome = judge();
    m_status.usage = outcome.usage;
    std::string limit_hit;
    if (m_plan.cgroup != nullptr) {
        m_status.resources = m_plan.cgroup->resources();
        limit_hit = limit_reason(m_plan.limits, *m_status.resources);
    }
    if (m_stop_state) {
        // A timed-out or cancelled agent never counts as succeeded, whatever it exited with.
        m_status.state = *m_stop_state;
        m_status.reason = m_stop_reason;
    } else if (exit.succeeded() && !outcome.failed) {
        m_status.state = AgentState::succeeded;
    } else {
        // A limit it hit is why it failed, whatever the CLI or the signal says next.
        m_status.state = AgentState::failed;
        m_status.reason = !limit_hit.empty()       ? limit_hit
                          : outcome.reason.empty() ? describe(exit)
                                                   : outcome.reason;
    }
    if (!m_plan.artifact.empty()) {
        collect_artifact();
    }
    if (m_plan.repo != nullptr) {
        collect_repo();
    }
    m_status.finished_at = m_exited_at;
    m_status.bytes = m_output->bytes();
    m_status.log_error = m_output->log_error();
    remove_scratch();
    m_shared.finished();
}

// Its temporary directory goes once nothing of the agent is left to write there: from the run
// directory's fd, never following a link the agent left (sys/io.hpp remove_tree_at).
void AgentRun::remove_scratch() const {
    const std::filesystem::path scratch(m_plan.scratch);
    if (m_plan.scratch.empty() || scratch.parent_path() != m_shared.run.path) {
        return;
    }
    if (const int error = remove_tree_at(m_shared.run.dir.get(), scratch.filename().c_str());
        error != 0) {
        m_shared.log.warn("agent {}: remove {}: {}", m_plan.name, m_plan.scratch,
                          std::strerror(error));
    }
}

// What the agent's own output says. The parsers read what the agent wrote, so they must not
// throw (tests/fuzz); should one still, it costs this agent its verdict, never the run.
AgentOutcome AgentRun::judge() const {
    AgentOutcome outcome;
    if (!m_plan.judge) {
        return outcome;
    }
    try {
        outcome = m_plan.judge(log_tail(),
                               m_exit->exited ? std::optional<int>(m_exit->code) : std::nullopt);
    } catch (const std::exception& e) {
        m_shared.log.error("agent {}: its output could not be judged: {}", m_plan.name, e.what());
        outcome = AgentOutcome{};
        outcome.failed = true;
        outcome.reason = "output could not be judged";
    }
    return outcome;
}

// The last k_judged_tail bytes of the log: where the CLIs put their verdicts. The agent may
// have replaced its log (by a FIFO, a link): then there is nothing to judge.
std::string AgentRun::log_tail() const {
    const Result<Fd> log = open_regular_at(m_shared.run.dir.get(), m_plan.name + ".log",
                                           std::numeric_limits<size_t>::max());
    struct stat info {};
    if (!log || ::fstat(log->get(), &info) != 0) {
        m_shared.log.warn("agent {}: log not judged: {}", m_plan.name,
                          log ? std::strerror(errno) : log.error().message);
        return "";
    }
    const off_t start = std::max<off_t>(0, info.st_size - k_judged_tail);
    std::string tail(static_cast<size_t>(info.st_size - start), '\0');
    const ssize_t n = ::pread(log->get(), tail.data(), tail.size(), start);
    tail.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return tail;
}

// Copies <workdir>/<artifact> to <run dir>/<agent>.<artifact>: only a regular file of at most
// k_max_artifact (open_regular_at); anything else is noted and not collected.
void AgentRun::collect_artifact() {
    const std::string from = m_plan.workdir + "/" + m_plan.artifact;
    Result<std::string> content = read_file_at(AT_FDCWD, from, k_max_artifact);
    if (!content) {
        m_shared.log.warn("agent {}: no {} collected: {}", m_plan.name, m_plan.artifact,
                          content.error().message);
        return;
    }
    const std::string name = m_plan.name + "." + m_plan.artifact;
    if (Status written = write_file_atomically(m_shared.run.dir.get(), name, *content); !written) {
        m_shared.log.error("agent {}: {}", m_plan.name, written.error().message);
        return;
    }
    m_status.artifact = m_shared.run.path + "/" + name;
}

// What it changed in its clone (agent_repo.hpp), every git under the agent's own confinement:
// a ruleset made again from its access, its cgroups.
void AgentRun::collect_repo() {
    AgentRepo& record = m_status.repo ? *m_status.repo : m_status.repo.emplace();
    Result<PreparedConfinement> confinement =
        prepare_confinement(m_plan.access, m_shared.landlock_abi);
    if (!confinement) {
        record.collected = true;
        record.error = "confinement: " + confinement.error().message;
        return;
    }
    ChangesRequest request;
    request.source = m_plan.repo;
    request.workdir = m_plan.workdir;
    request.branch = m_plan.branch;
    request.run_id = m_shared.run_id;
    request.agent = m_plan.name;
    request.prompt_line = m_plan.prompt_line;
    request.run_dir = m_shared.run.dir.get();
    request.run_path = m_shared.run.path;
    request.confinement.landlock_fd = confinement->ruleset ? confinement->ruleset->fd() : -1;
    if (m_plan.cgroup != nullptr) {
        request.confinement.cgroup_fds = m_plan.cgroup->join_fds().data();
        request.confinement.cgroup_count = m_plan.cgroup->join_fds().size();
    }
    const auto began = Clock::now();
    AgentRepo found = collect_changes(request);
    m_shared.log.info(
        "agent {}: changes collected in {} ms", m_plan.name,
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began).count());
    found.origin = record.origin;
    found.ref = record.ref;
    found.base = record.base;
    found.note = record.note;
    record = std::move(found);
    if (!record.error.empty()) {
        m_shared.log.warn("agent {}: changes: {}", m_plan.name, record.error);
    }
}

LiveAgent AgentRun::live(Clock::time_point now) const {
    LiveAgent entry;
    entry.name = m_plan.name;
    entry.state = m_status.state;
    if (m_pid != 0) {
        entry.elapsed = (m_exit ? m_exit_time : now) - m_start_time;
    }
    if (m_output) {
        entry.bytes = m_output->bytes();
        entry.last_line = m_output->last_line();
    }
    return entry;
}

} // namespace fleet
