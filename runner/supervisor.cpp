#include "runner/supervisor.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <memory>
#include <optional>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/atomic_file.hpp"
#include "runner/capture.hpp"
#include "base/clock.hpp"
#include "sys/io.hpp"
#include "runner/proc.hpp"
#include "runner/spawner.hpp"
#include "sys/wait_status.hpp"

namespace fleet {

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr const char* k_ballast_name = ".reserve";
constexpr off_t k_ballast_size = off_t{256} * 1024;
// How often leftover processes are checked while an agent is being cleaned up.
constexpr std::chrono::milliseconds k_cleanup_poll{50};
// After an agent exits, how long past `grace` its pipe may stay open (held by a descendant
// that left its process group) before we stop reading it.
constexpr std::chrono::milliseconds k_drain_extra{1000};
// How much of a log's end the agent's judge reads, and the largest artifact collected.
constexpr off_t k_judged_tail = 1 << 20;
constexpr size_t k_max_artifact = 4 << 20;
// The largest prompt.txt the agents are given (the command line takes 16 MiB).
constexpr size_t k_max_prompt = 32 << 20;
// How often a live display is redrawn.
constexpr std::chrono::milliseconds k_tick{500};
// Bound on the final sweep's TERM/KILL rounds (each round can only reveal grandchildren).
constexpr int k_max_sweep_rounds = 16;
// The kernel's pipe capacity when nobody asks (16 pages): agents' pipes never go below it.
constexpr size_t k_default_pipe_size = size_t{64} * 1024;
// What all agents' pipes together may ask for: a quarter of the per-user allowance
// (fs.pipe-user-pages-soft, 64 MiB by default). A user over it gets pipes of one or two pages,
// the agents' own pipes included, so many agents at once get smaller pipes instead.
constexpr size_t k_pipe_budget = size_t{16} << 20;

std::string now_timestamp() {
    return format_timestamp(std::chrono::system_clock::now());
}

// Sends `sig` to a process group and tolerates it being gone already.
void signal_group(pid_t pgid, int sig) {
    if (pgid > 0) {
        ::kill(-pgid, sig);
    }
}

bool group_exists(pid_t pgid) {
    return pgid > 0 && (::kill(-pgid, 0) == 0 || errno == EPERM);
}

// Asks for a pipe of at least `capacity` bytes; a pipe that has as much already, like a
// caller's pipe on our stdout, is left alone, never shrunk. 0 or the errno of the refusal.
int grow_pipe(int fd, size_t capacity) {
    const int current = ::fcntl(fd, F_GETPIPE_SZ);
    if (current < 0) {
        return errno;
    }
    if (static_cast<size_t>(current) >= capacity) {
        return 0;
    }
    return ::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(capacity)) < 0 ? errno : 0;
}

// The capacity asked for each agent's pipe when `concurrent` agents run at once: all of them
// together stay within k_pipe_budget, each between the kernel's default and k_pipe_size, a
// power of two (the kernel rounds up to one).
int pipe_capacity(size_t concurrent) {
    const size_t share = k_pipe_budget / std::max<size_t>(concurrent, 1);
    size_t capacity = k_pipe_size;
    while (capacity > k_default_pipe_size && capacity > share) {
        capacity /= 2;
    }
    return static_cast<int>(capacity);
}

// Where agent output goes on the console: -1 (nowhere) when asked so, or when `fd` is /dev/null
// (a caller that sends stdout there): the bytes then go to the logs only, unprefixed and never
// written out.
int console_target(int fd) {
    struct stat info {};
    const bool dev_null = fd >= 0 && ::fstat(fd, &info) == 0 && S_ISCHR(info.st_mode) &&
                          info.st_rdev == makedev(1, 3);
    return dev_null ? -1 : fd;
}

} // namespace

class Supervisor::Impl {
public:
    Impl(RunDir& run, RunStatus status, std::vector<AgentPlan> plans,
         const SupervisorOptions& options, spdlog::logger& log)
        : m_run(run), m_status(std::move(status)), m_options(options), m_log(log),
          m_console(console_target(options.console_fd)),
          m_pipe_capacity(pipe_capacity(std::min(plans.size(), options.max_parallel))),
          m_signals(m_io, SIGCHLD, SIGTERM, SIGINT), m_run_timer(m_io), m_tick_timer(m_io) {
        m_signals.add(SIGHUP);
        m_signals.add(SIGUSR1);
        for (size_t i = 0; i < plans.size(); ++i) {
            m_agents.push_back(std::make_unique<Agent>(m_io, std::move(plans[i]), i));
        }
        grow_console_pipe();
    }

    int run() {
        if (::prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL) != 0) {
            m_log.warn("prctl(PR_SET_CHILD_SUBREAPER): {}", std::strerror(errno));
        }
        create_ballast();
        if (Result<Fd> prompt = seal_prompt(); prompt) {
            m_prompt = std::move(*prompt);
        } else {
            m_log.error("prompt.txt: {}", prompt.error().message);
        }
        wait_for_signals();
        if (m_options.run_timeout.count() > 0) {
            m_run_timer.expires_after(m_options.run_timeout);
            m_run_timer.async_wait([this](const boost::system::error_code& ec) {
                if (!ec) {
                    m_log.warn("run timed out after {}", format_duration(m_options.run_timeout));
                    stop_all(AgentState::timed_out, "run timed out");
                }
            });
        }
        start_pending();
        if (m_options.on_tick) {
            tick();
        }
        maybe_finish_run();
        m_io.run();
        return *m_status.exit_code;
    }

    const RunStatus& status() const { return m_status; }

private:
    struct Agent {
        Agent(asio::io_context& io, AgentPlan p, size_t i)
            : plan(std::move(p)), index(i), pipe(io), timeout(io), grace(io), poll(io) {}
        AgentPlan plan;
        size_t index;
        pid_t pid = 0;
        std::optional<AgentOutput> output;
        asio::posix::stream_descriptor pipe;
        asio::steady_timer timeout, grace, poll;
        std::optional<AgentState> stop_state; // timed_out or cancelled, once asked to stop
        std::string stop_reason;
        std::optional<ExitStatus> exit;
        std::string exited_at;
        Clock::time_point exit_time;
        Clock::time_point start_time;
        bool pipe_open = false;
        bool cleanup_done = false;
        bool killed = false;
        bool finished = false;
    };

    AgentStatus& status_of(const Agent& agent) { return m_status.agents[agent.index]; }

    // A console that is a pipe (SSM's, `dispatch | cat`) gets 1 MiB too, as coreutils cat
    // enlarges its output pipe: with 64 KiB, 1 GiB through `dispatch | cat` took 1.83 s
    // against 0.62 s (medians of 5; tee 1.59 s). Only its capacity changes, for its reader too.
    void grow_console_pipe() {
        const int fd = m_console.fd();
        struct stat info {};
        if (fd < 0 || ::fstat(fd, &info) != 0 || !S_ISFIFO(info.st_mode)) {
            return;
        }
        if (const int error = grow_pipe(fd, k_pipe_size); error != 0) {
            m_log.info("console pipe keeps its size: F_SETPIPE_SZ {}: {}", k_pipe_size,
                       std::strerror(error));
        }
    }

    // prompt.txt as it is before any agent runs, copied into a memfd sealed against every
    // change (F_SEAL_WRITE|GROW|SHRINK|SEAL): what later agents read on stdin is what the
    // operator sent, whatever an earlier agent (the same user) does to the file.
    Result<Fd> seal_prompt() const {
        Result<std::string> text = read_file_at(m_run.dir.get(), "prompt.txt", k_max_prompt);
        if (!text) {
            return text.error();
        }
        Fd memory(::memfd_create("prompt", MFD_CLOEXEC | MFD_ALLOW_SEALING));
        if (!memory.valid()) {
            return system_error("memfd_create", errno);
        }
        if (const int error = write_all(memory.get(), *text); error != 0) {
            return system_error("write the prompt", error);
        }
        if (::fcntl(memory.get(), F_ADD_SEALS,
                    F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
            return system_error("seal the prompt", errno);
        }
        return memory;
    }

    void create_ballast() {
        const Fd fd(::openat(m_run.dir.get(), k_ballast_name,
                             O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd.valid() || ::posix_fallocate(fd.get(), 0, k_ballast_size) != 0) {
            m_log.warn("cannot reserve space for status on a full disk");
        }
    }

    void release_ballast() { ::unlinkat(m_run.dir.get(), k_ballast_name, 0); }

    void write_status() {
        if (Status written =
                write_file_atomically(m_run.dir.get(), "status.json", to_json(m_status, -1) + "\n");
            !written) {
            m_log.error("status.json: {}", written.error().message);
        }
    }

    void wait_for_signals() {
        m_signals.async_wait([this](const boost::system::error_code& ec, int sig) {
            if (ec) {
                return;
            }
            if (sig == SIGCHLD) {
                reap_children();
            } else if (sig == SIGUSR1) {
                take_cancel_requests();
            } else if (!m_cancelled) {
                m_cancelled = true;
                m_log.warn("received {}: cancelling the run", sigabbrev_np(sig));
                stop_all(AgentState::cancelled,
                         std::string("dispatch received SIG") + sigabbrev_np(sig));
            }
            if (!m_done) {
                wait_for_signals();
            }
        });
    }

    // Starts what max_parallel allows and records it in one status write (a run caught before
    // its first write reads as running or lost by its lock, run_store.hpp). True if any started.
    // `dispatch cancel RUN --agent NAME` leaves "cancel-NAME" in the run directory, then sends
    // SIGUSR1: each such agent is stopped (or never started) as cancelled.
    void take_cancel_requests() {
        bool changed = false;
        for (auto& agent : m_agents) {
            const std::string request = "cancel-" + agent->plan.name;
            if (::unlinkat(m_run.dir.get(), request.c_str(), 0) != 0) {
                continue;
            }
            m_log.warn("agent {}: cancel requested", agent->plan.name);
            if (agent->pid == 0 && !agent->finished) {
                AgentStatus& status = status_of(*agent);
                status.state = AgentState::cancelled;
                status.reason = "cancelled before it started";
                agent->finished = true;
                changed = true;
            } else {
                stop_agent(*agent, AgentState::cancelled, "cancelled by dispatch cancel");
            }
        }
        if (changed) {
            write_status();
            maybe_finish_run();
        }
    }

    bool start_pending() {
        bool started = false;
        while (!m_stopping && m_next < m_agents.size() && m_running < m_options.max_parallel) {
            Agent& agent = *m_agents[m_next++];
            if (!agent.finished) { // a pending agent may have been cancelled already
                start_agent(agent);
                started = true;
            }
        }
        if (started) {
            write_status();
        }
        return started;
    }

    std::vector<LiveAgent> live() const {
        std::vector<LiveAgent> agents;
        const auto now = Clock::now();
        for (const auto& agent : m_agents) {
            LiveAgent entry;
            entry.name = agent->plan.name;
            entry.state = m_status.agents[agent->index].state;
            if (agent->pid != 0) {
                entry.elapsed = (agent->exit ? agent->exit_time : now) - agent->start_time;
            }
            if (agent->output) {
                entry.bytes = agent->output->bytes();
                entry.last_line = agent->output->last_line();
            }
            agents.push_back(std::move(entry));
        }
        return agents;
    }

    void tick() {
        m_options.on_tick(live());
        m_tick_timer.expires_after(k_tick);
        m_tick_timer.async_wait([this](const boost::system::error_code& ec) {
            if (!ec && !m_done) {
                tick();
            }
        });
    }

    bool all_finished() const {
        return std::all_of(m_agents.begin(), m_agents.end(),
                           [](const auto& agent) { return agent->finished; });
    }

    void start_agent(Agent& agent) {
        AgentStatus& status = status_of(agent);
        status.started_at = now_timestamp();
        status.log = m_run.path + "/" + agent.plan.name + ".log";
        Result<pid_t> started =
            agent.plan.launch_error.empty()
                ? launch(agent)
                : Result<pid_t>(Error{ErrorKind::system, agent.plan.launch_error});
        if (!started) {
            status.state = agent.plan.launch_error.empty() ? AgentState::spawn_failed
                                                           : agent.plan.launch_error_state;
            status.reason = started.error().message;
            status.finished_at = now_timestamp();
            agent.finished = true;
            m_log.error("agent {}: {}", agent.plan.name, status.reason);
            return;
        }
        agent.pid = *started;
        agent.start_time = Clock::now();
        status.pid = agent.pid;
        status.state = AgentState::running;
        ++m_running;
        m_log.info("agent {}: started pid {} ({})", agent.plan.name, agent.pid,
                   agent.plan.executable);
        wait_readable(agent);
        if (agent.plan.timeout.count() > 0) {
            agent.timeout.expires_after(agent.plan.timeout);
            agent.timeout.async_wait([this, &agent](const boost::system::error_code& ec) {
                if (!ec && !agent.exit) {
                    m_log.warn("agent {}: timed out after {}", agent.plan.name,
                               format_duration(agent.plan.timeout));
                    stop_agent(agent, AgentState::timed_out,
                               "timed out after " + format_duration(agent.plan.timeout));
                }
            });
        }
    }

    Result<pid_t> launch(Agent& agent) {
        const std::string log_name = agent.plan.name + ".log";
        Fd log(::openat(m_run.dir.get(), log_name.c_str(),
                        O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!log.valid()) {
            return system_error("create " + log_name, errno);
        }
        // The prompt from the sealed copy made at the start (m_prompt), never from prompt.txt,
        // which an agent started earlier could have replaced or rewritten by now: a fresh open
        // file description of the memfd, so each agent reads it from its start.
        Fd input(agent.plan.stdin_prompt
                     ? ::open(("/proc/self/fd/" + std::to_string(m_prompt.get())).c_str(),
                              O_RDONLY | O_CLOEXEC)
                     : ::open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (!input.valid()) {
            return system_error("open stdin for " + agent.plan.name, errno);
        }
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            return system_error("pipe2", errno);
        }
        Fd read_end(fds[0]);
        const Fd write_end(fds[1]);
        // Only our end is non-blocking (the agent's stdout must stay blocking); a larger pipe
        // is an optimisation, so a refusal (EPERM: over pipe-max-size or the user's allowance)
        // leaves the default.
        const int flags = ::fcntl(read_end.get(), F_GETFL);
        if (flags < 0 || ::fcntl(read_end.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
            return system_error("fcntl(O_NONBLOCK) on the output pipe", errno);
        }
        if (const int error = grow_pipe(read_end.get(), m_pipe_capacity); error != 0) {
            m_log.info("agent {}: output pipe keeps its size: F_SETPIPE_SZ {}: {}", agent.plan.name,
                       m_pipe_capacity, std::strerror(error));
        }
        SpawnRequest request;
        request.executable = agent.plan.executable;
        request.args = agent.plan.args;
        request.env = agent.plan.env;
        request.workdir = agent.plan.workdir;
        request.stdin_fd = input.get();
        request.output_fd = write_end.get();
        // TERM, not KILL, when dispatch dies: the agent may still stop the processes it started.
        request.death_signal = SIGTERM;
        Result<pid_t> pid = spawn(m_io, request);
        if (!pid) {
            return pid;
        }
        agent.output.emplace(
            std::move(log),
            m_options.prefix_output && m_console.fd() >= 0 ? "[" + agent.plan.name + "] " : "",
            m_options.on_tick ? TrackLastLine::yes : TrackLastLine::no);
        agent.pipe.assign(read_end.release());
        agent.pipe_open = true;
        return pid;
    }

    // Reading an agent's pipe: wait until it is readable, read once. Asio re-arms the fd
    // (EPOLL_CTL_MOD) for every wait, so a pipe with data left completes the wait at once; but
    // after a read that filled the buffer, where more is likely, the next read is posted behind
    // the other agents' handlers instead, without that round trip. Every handler consumes its
    // chunk before it returns, so all agents share one buffer.
    void wait_readable(Agent& agent) {
        agent.pipe.async_wait(asio::posix::descriptor_base::wait_read,
                              [this, &agent](const boost::system::error_code& ec) {
                                  if (!agent.pipe_open) {
                                      return; // closed by stop_reading
                                  }
                                  if (ec) {
                                      stop_reading(agent);
                                  } else {
                                      read_chunk(agent);
                                  }
                              });
    }

    void read_chunk(Agent& agent) {
        ssize_t n = 0;
        do {
            n = ::read(agent.pipe.native_handle(), m_buffer.get(), k_copy_buffer_size);
        } while (n < 0 && errno == EINTR);
        if (n < 0 && errno == EAGAIN) {
            wait_readable(agent);
            return;
        }
        if (n < 0) {
            m_log.error("agent {}: read output pipe: {}", agent.plan.name, std::strerror(errno));
        }
        if (n <= 0) {
            stop_reading(agent);
            return;
        }
        if (agent.output->consume({m_buffer.get(), static_cast<size_t>(n)}, m_console)) {
            log_failed(agent);
        }
        if (static_cast<size_t>(n) < k_copy_buffer_size) {
            wait_readable(agent);
            return;
        }
        asio::post(m_io, [this, &agent] {
            if (agent.pipe_open) {
                read_chunk(agent);
            }
        });
    }

    void stop_reading(Agent& agent) {
        close_pipe(agent);
        maybe_finish_agent(agent);
    }

    void log_failed(Agent& agent) {
        AgentStatus& status = status_of(agent);
        status.log_error = agent.output->log_error();
        m_log.error("agent {}: {}", agent.plan.name, status.log_error);
        release_ballast();
        write_status();
    }

    void close_pipe(Agent& agent) {
        if (agent.pipe_open) {
            agent.pipe_open = false;
            boost::system::error_code ignored;
            agent.pipe.close(ignored);
        }
    }

    void reap_children() {
        int wait_status = 0;
        pid_t pid = 0;
        while ((pid = ::waitpid(-1, &wait_status, WNOHANG)) > 0) {
            for (auto& agent : m_agents) {
                if (agent->pid == pid && !agent->exit) {
                    on_agent_exit(*agent, decode_wait_status(wait_status));
                }
            }
        }
    }

    void on_agent_exit(Agent& agent, ExitStatus exit) {
        agent.exit = exit;
        agent.exited_at = now_timestamp();
        agent.exit_time = Clock::now();
        agent.timeout.cancel();
        m_log.info("agent {}: {}", agent.plan.name, describe(exit));
        // Whatever it left behind gets TERM now and KILL after the grace period.
        signal_leftovers(agent, SIGTERM);
        agent.grace.expires_after(m_options.grace);
        agent.grace.async_wait([this, &agent](const boost::system::error_code& ec) {
            if (!ec) {
                agent.killed = true;
                signal_leftovers(agent, SIGKILL);
            }
        });
        poll_cleanup(agent);
    }

    // Our children that the agent left behind (reparented to us), found by the marker in the
    // environment they were started with.
    std::vector<pid_t> orphans_of(const Agent& agent) const {
        std::vector<pid_t> orphans;
        for (const pid_t child : child_processes()) {
            bool is_agent = false;
            for (const auto& other : m_agents) {
                is_agent = is_agent || (other->pid == child && !other->exit);
            }
            if (!is_agent && environ_value(child, "FLEET_DISPATCH_AGENT") == agent.plan.name &&
                environ_value(child, "FLEET_DISPATCH_RUN_ID") == m_status.run_id) {
                orphans.push_back(child);
            }
        }
        return orphans;
    }

    void signal_leftovers(const Agent& agent, int sig) {
        signal_group(agent.pid, sig);
        for (const pid_t orphan : orphans_of(agent)) {
            signal_group(orphan, sig);
            ::kill(orphan, sig);
        }
    }

    void poll_cleanup(Agent& agent) {
        reap_children();
        const bool leftovers = group_exists(agent.pid) || !orphans_of(agent).empty();
        const bool drain_over = Clock::now() - agent.exit_time > m_options.grace + k_drain_extra;
        if (!leftovers) {
            agent.cleanup_done = true;
            agent.grace.cancel();
        } else if (drain_over && !agent.cleanup_done) {
            // KILL was sent a second ago; what still stands cannot be signalled by us (EPERM).
            // Stop waiting for it; the final sweep tries once more.
            m_log.error("agent {}: leftover processes survive SIGKILL", agent.plan.name);
            agent.cleanup_done = true;
        }
        if (agent.pipe_open && drain_over) {
            m_log.warn("agent {}: output pipe still open after exit; closing it", agent.plan.name);
            stop_reading(agent);
            return;
        }
        if (!agent.cleanup_done || agent.pipe_open) {
            agent.poll.expires_after(k_cleanup_poll);
            agent.poll.async_wait([this, &agent](const boost::system::error_code& ec) {
                if (!ec) {
                    poll_cleanup(agent);
                }
            });
            return;
        }
        maybe_finish_agent(agent);
    }

    void stop_agent(Agent& agent, AgentState state, const std::string& reason) {
        if (agent.finished || agent.exit || agent.stop_state) {
            return;
        }
        agent.stop_state = state;
        agent.stop_reason = reason;
        signal_group(agent.pid, SIGTERM);
        agent.grace.expires_after(m_options.grace);
        agent.grace.async_wait([this, &agent](const boost::system::error_code& ec) {
            if (!ec && !agent.exit) {
                m_log.warn("agent {}: still running after {}; SIGKILL", agent.plan.name,
                           format_duration(m_options.grace));
                agent.killed = true;
                signal_group(agent.pid, SIGKILL);
            }
        });
    }

    void stop_all(AgentState state, const std::string& reason) {
        m_stopping = true;
        for (auto& agent : m_agents) {
            if (agent->pid == 0 && !agent->finished) {
                AgentStatus& status = status_of(*agent);
                status.state = state;
                status.reason = reason + " before the agent started";
                agent->finished = true;
            } else {
                stop_agent(*agent, state, reason);
            }
        }
        write_status();
        maybe_finish_run();
    }

    // The last k_judged_tail bytes of an agent's log: where the CLIs put their verdicts. The
    // agent may have replaced its log (by a FIFO, a link): then there is nothing to judge.
    std::string log_tail(const Agent& agent) const {
        const Result<Fd> log = open_regular_at(m_run.dir.get(), agent.plan.name + ".log",
                                               std::numeric_limits<size_t>::max());
        struct stat info {};
        if (!log || ::fstat(log->get(), &info) != 0) {
            m_log.warn("agent {}: log not judged: {}", agent.plan.name,
                       log ? std::strerror(errno) : log.error().message);
            return "";
        }
        const off_t start = std::max<off_t>(0, info.st_size - k_judged_tail);
        std::string tail(static_cast<size_t>(info.st_size - start), '\0');
        const ssize_t n = ::pread(log->get(), tail.data(), tail.size(), start);
        tail.resize(n > 0 ? static_cast<size_t>(n) : 0);
        return tail;
    }

    // What the agent's own output says. The parsers read what the agent wrote, so they must not
    // throw (tests/fuzz); should one still, it costs this agent its verdict, never the run.
    AgentOutcome judge(const Agent& agent, const ExitStatus& exit) const {
        AgentOutcome outcome;
        if (!agent.plan.judge) {
            return outcome;
        }
        try {
            outcome = agent.plan.judge(log_tail(agent),
                                       exit.exited ? std::optional<int>(exit.code) : std::nullopt);
        } catch (const std::exception& e) {
            m_log.error("agent {}: its output could not be judged: {}", agent.plan.name, e.what());
            outcome = AgentOutcome{};
            outcome.failed = true;
            outcome.reason = "output could not be judged";
        }
        return outcome;
    }

    // Copies <workdir>/<artifact> to <run dir>/<agent>.<artifact>: only a regular file of at
    // most k_max_artifact (open_regular_at); anything else is noted and not collected.
    void collect_artifact(const Agent& agent, AgentStatus& status) {
        const std::string from = agent.plan.workdir + "/" + agent.plan.artifact;
        Result<std::string> content = read_file_at(AT_FDCWD, from, k_max_artifact);
        if (!content) {
            m_log.warn("agent {}: no {} collected: {}", agent.plan.name, agent.plan.artifact,
                       content.error().message);
            return;
        }
        const std::string name = agent.plan.name + "." + agent.plan.artifact;
        if (Status written = write_file_atomically(m_run.dir.get(), name, *content); !written) {
            m_log.error("agent {}: {}", agent.plan.name, written.error().message);
            return;
        }
        status.artifact = m_run.path + "/" + name;
    }

    void maybe_finish_agent(Agent& agent) {
        if (agent.finished || !agent.exit || !agent.cleanup_done || agent.pipe_open) {
            return;
        }
        agent.finished = true;
        agent.grace.cancel();
        agent.poll.cancel();
        agent.output->finish(m_console);
        AgentStatus& status = status_of(agent);
        const ExitStatus& exit = *agent.exit;
        if (exit.exited) {
            status.exit_code = exit.code;
        } else {
            status.signal = exit.signal;
            status.core_dumped = exit.core_dumped;
        }
        const AgentOutcome outcome = judge(agent, exit);
        status.usage = outcome.usage;
        if (agent.stop_state) {
            // A timed-out or cancelled agent never counts as succeeded, whatever it exited with.
            status.state = *agent.stop_state;
            status.reason = agent.stop_reason;
        } else if (exit.exited && exit.code == 0 && !outcome.failed) {
            status.state = AgentState::succeeded;
        } else {
            status.state = AgentState::failed;
            status.reason = outcome.reason.empty() ? describe(exit) : outcome.reason;
        }
        if (!agent.plan.artifact.empty()) {
            collect_artifact(agent, status);
        }
        status.finished_at = agent.exited_at;
        status.bytes = agent.output->bytes();
        status.log_error = agent.output->log_error();
        --m_running;
        // One status write per change: the run's final write covers the last agent.
        const bool started = start_pending();
        if (all_finished()) {
            maybe_finish_run();
        } else if (!started) {
            write_status();
        }
    }

    void maybe_finish_run() {
        if (!all_finished() || m_done) {
            return;
        }
        m_done = true;
        m_run_timer.cancel();
        m_tick_timer.cancel();
        sweep_children();
        const int exit_code = fold_exit_code(m_status.agents);
        m_status.exit_code = exit_code;
        m_status.state = state_for_exit_code(exit_code);
        m_status.finished_at = now_timestamp();
        write_status();
        // The legacy `status` file comes last: its presence means everything else is final.
        if (Status written =
                write_file_atomically(m_run.dir.get(), "status", std::to_string(exit_code) + "\n");
            !written) {
            m_log.error("status: {}", written.error().message);
        }
        release_ballast();
        m_log.info("run finished: {} (exit {})", to_string(m_status.state), exit_code);
        // The runner's own cost, agents excluded (bench/unified.sh reads this line).
        rusage self{};
        if (::getrusage(RUSAGE_SELF, &self) == 0) {
            const auto seconds = [](const timeval& t) {
                return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
            };
            m_log.info("runner cpu {:.3f} s (user {:.3f} s, system {:.3f} s), max rss {} KiB",
                       seconds(self.ru_utime) + seconds(self.ru_stime), seconds(self.ru_utime),
                       seconds(self.ru_stime), self.ru_maxrss);
        }
        if (m_options.on_tick) {
            m_options.on_tick(live()); // the final picture
        }
        m_signals.cancel();
        m_io.stop();
    }

    // No process of a run survives it: TERM every remaining child (and its group), wait up to
    // `grace` while reaping, KILL what is left; repeat while killing reveals grandchildren.
    void sweep_children() {
        for (int round = 0; round < k_max_sweep_rounds; ++round) {
            reap_children();
            std::vector<pid_t> children = child_processes();
            if (children.empty()) {
                return;
            }
            m_log.warn("{} leftover process(es) at the end of the run; SIGTERM", children.size());
            for (const pid_t child : children) {
                signal_group(child, SIGTERM);
                ::kill(child, SIGTERM);
            }
            const auto deadline = Clock::now() + m_options.grace;
            while (Clock::now() < deadline && !child_processes().empty()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
                reap_children();
            }
            for (const pid_t child : child_processes()) {
                signal_group(child, SIGKILL);
                ::kill(child, SIGKILL);
            }
            // Reaping the KILLed children reparents their own children to us for the next round.
            const auto kill_deadline = Clock::now() + std::chrono::seconds(5);
            while (Clock::now() < kill_deadline) {
                reap_children();
                if (child_processes().empty()) {
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            std::vector<pid_t> left = child_processes();
            std::sort(left.begin(), left.end());
            std::sort(children.begin(), children.end());
            if (left == children) {
                m_log.error("{} process(es) survive SIGKILL; giving up on them", left.size());
                return;
            }
        }
    }

    RunDir& m_run;
    RunStatus m_status;
    SupervisorOptions m_options;
    spdlog::logger& m_log;
    Console m_console;
    // The read buffer of every agent's pipe (read_chunk); its pages are touched only as used.
    std::unique_ptr<char[]> m_buffer = std::make_unique_for_overwrite<char[]>(k_copy_buffer_size);
    const int m_pipe_capacity; // what each agent's pipe asks for (pipe_capacity)
    Fd m_prompt;               // prompt.txt as it was before any agent ran, sealed (memfd)
    asio::io_context m_io;
    asio::signal_set m_signals;
    asio::steady_timer m_run_timer;
    asio::steady_timer m_tick_timer;
    std::vector<std::unique_ptr<Agent>> m_agents;
    size_t m_next = 0;
    size_t m_running = 0;
    bool m_stopping = false;
    bool m_cancelled = false;
    bool m_done = false;
};

Supervisor::Supervisor(RunDir& run, RunStatus status, std::vector<AgentPlan> plans,
                       const SupervisorOptions& options, spdlog::logger& log)
    : m_impl(std::make_unique<Impl>(run, std::move(status), std::move(plans), options, log)) {}

Supervisor::~Supervisor() = default;

int Supervisor::run() {
    return m_impl->run();
}

const RunStatus& Supervisor::status() const {
    return m_impl->status();
}

} // namespace fleet
