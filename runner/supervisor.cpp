#include "runner/supervisor.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/atomic_file.hpp"
#include "base/clock.hpp"
#include "runner/agent_run.hpp"
#include "runner/capture.hpp"
#include "runner/reaper.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr const char* k_ballast_name = ".reserve";
constexpr off_t k_ballast_size = off_t{256} * 1024;
// The largest prompt.txt the agents are given (the command line takes 16 MiB).
constexpr size_t k_max_prompt = 32 << 20;
// How often a live display is redrawn.
constexpr std::chrono::milliseconds k_tick{500};
// The kernel's pipe capacity when nobody asks (16 pages): agents' pipes never go below it.
constexpr size_t k_default_pipe_size = size_t{64} * 1024;
// What all agents' pipes together may ask for: a quarter of the per-user allowance
// (fs.pipe-user-pages-soft, 64 MiB by default). A user over it gets pipes of one or two pages,
// the agents' own pipes included, so many agents at once get smaller pipes instead.
constexpr size_t k_pipe_budget = size_t{16} << 20;

std::string now_timestamp() {
    return format_timestamp(std::chrono::system_clock::now());
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
          m_console(console_target(options.console_fd)), m_signals(m_io, SIGCHLD, SIGTERM, SIGINT),
          m_run_timer(m_io), m_tick_timer(m_io),
          m_reaper(m_io, log, options.grace,
                   [this](pid_t pid, const ExitStatus& exit) { on_child_exit(pid, exit); }),
          m_shared{m_io,
                   m_run,
                   m_status.run_id,
                   m_log,
                   m_console,
                   m_buffer.get(),
                   pipe_capacity(std::min(plans.size(), options.max_parallel)),
                   options.prefix_output,
                   options.on_tick ? TrackLastLine::yes : TrackLastLine::no,
                   options.grace,
                   options.landlock_abi,
                   m_prompt,
                   m_reaper,
                   [this] { return running_pids(); },
                   [this] { changed(); },
                   [this] {
                       release_ballast();
                       changed();
                   },
                   [this] { agent_finished(); }} {
        m_signals.add(SIGHUP);
        m_signals.add(SIGUSR1);
        for (size_t i = 0; i < plans.size(); ++i) {
            m_agents.push_back(
                std::make_unique<AgentRun>(m_shared, std::move(plans[i]), m_status.agents[i]));
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

    // The space reserved for status.json on a full disk (256 KiB): freed when a log first fails,
    // and at the end.
    void release_ballast() { ::unlinkat(m_run.dir.get(), k_ballast_name, 0); }

    // status.json is written once per event: whatever changed while one handler ran (agents
    // started together, an exit and the next start) is one write, after it.
    void changed() {
        if (m_flush_posted || m_finishing) {
            return;
        }
        m_flush_posted = true;
        asio::post(m_io, [this] {
            m_flush_posted = false;
            if (!m_finishing) {
                write_status();
            }
        });
    }

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
                m_reaper.reap();
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

    void on_child_exit(pid_t pid, const ExitStatus& exit) {
        for (auto& agent : m_agents) {
            if (agent->pid() == pid && agent->phase() == AgentPhase::running) {
                agent->on_exit(exit);
            }
        }
    }

    std::vector<pid_t> running_pids() const {
        std::vector<pid_t> pids;
        for (const auto& agent : m_agents) {
            if (agent->phase() == AgentPhase::running) {
                pids.push_back(agent->pid());
            }
        }
        return pids;
    }

    // `dispatch cancel RUN --agent NAME` leaves "cancel-NAME" in the run directory, then sends
    // SIGUSR1: each such agent is stopped (or never started) as cancelled.
    void take_cancel_requests() {
        for (auto& agent : m_agents) {
            const std::string request = "cancel-" + agent->plan().name;
            if (::unlinkat(m_run.dir.get(), request.c_str(), 0) != 0) {
                continue;
            }
            m_log.warn("agent {}: cancel requested", agent->plan().name);
            agent->cancel_pending(AgentState::cancelled, "cancelled before it started");
            agent->stop(AgentState::cancelled, "cancelled by dispatch cancel");
        }
        maybe_finish_run();
    }

    size_t active() const {
        return static_cast<size_t>(
            std::count_if(m_agents.begin(), m_agents.end(), [](const auto& agent) {
                return agent->phase() != AgentPhase::pending &&
                       agent->phase() != AgentPhase::finished;
            }));
    }

    // Starts what max_parallel allows (a run caught before its first status write reads as
    // running or lost by its lock, run_store.hpp).
    void start_pending() {
        while (!m_stopping && m_next < m_agents.size() && active() < m_options.max_parallel) {
            AgentRun& agent = *m_agents[m_next++];
            if (agent.phase() == AgentPhase::pending) { // it may have been cancelled already
                agent.start();
                changed();
            }
        }
    }

    void agent_finished() {
        start_pending();
        changed();
        maybe_finish_run();
    }

    std::vector<LiveAgent> live() const {
        std::vector<LiveAgent> agents;
        const auto now = Clock::now();
        for (const auto& agent : m_agents) {
            agents.push_back(agent->live(now));
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
        return std::all_of(m_agents.begin(), m_agents.end(), [](const auto& agent) {
            return agent->phase() == AgentPhase::finished;
        });
    }

    void stop_all(AgentState state, const std::string& reason) {
        m_stopping = true;
        for (auto& agent : m_agents) {
            agent->cancel_pending(state, reason + " before the agent started");
            agent->stop(state, reason);
        }
        changed();
        maybe_finish_run();
    }

    // Once every agent has finished: no process of the run survives it (the reaper's sweep,
    // on timers), then the final status.
    void maybe_finish_run() {
        if (!all_finished() || m_finishing) {
            return;
        }
        m_finishing = true;
        m_run_timer.cancel();
        m_tick_timer.cancel();
        kill_cgroups();
        m_reaper.sweep([this] {
            check_cgroups_empty();
            finish_run();
        });
    }

    // The run's end kills whatever is still in an agent's cgroup (each agent's own end has
    // already waited for its leftovers: this is what survived that)...
    void kill_cgroups() {
        for (auto& agent : m_agents) {
            const AgentCgroup* cgroup = agent->plan().cgroup;
            if (cgroup != nullptr && cgroup->populated()) {
                m_log.warn("agent {}: processes left in its cgroup at the run's end; SIGKILL",
                           agent->plan().name);
                if (const int error = cgroup->kill(); error != 0) {
                    m_log.error("agent {}: kill its cgroup: {}", agent->plan().name,
                                std::strerror(error));
                }
            }
        }
    }

    // ...and, once the sweep has reaped them, checks that none is left.
    void check_cgroups_empty() {
        for (auto& agent : m_agents) {
            const AgentCgroup* cgroup = agent->plan().cgroup;
            if (cgroup != nullptr && cgroup->populated()) {
                m_log.error("agent {}: its cgroup still holds processes", agent->plan().name);
            }
        }
    }

    void finish_run() {
        m_done = true;
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

    RunDir& m_run;
    RunStatus m_status;
    SupervisorOptions m_options;
    spdlog::logger& m_log;
    Console m_console;
    // The read buffer of every agent's pipe (agent_run.cpp); its pages are touched only as used.
    std::unique_ptr<char[]> m_buffer = std::make_unique_for_overwrite<char[]>(k_copy_buffer_size);
    Fd m_prompt; // prompt.txt as it was before any agent ran, sealed (memfd)
    asio::io_context m_io;
    asio::signal_set m_signals;
    asio::steady_timer m_run_timer;
    asio::steady_timer m_tick_timer;
    Reaper m_reaper;
    AgentRunShared m_shared;
    std::vector<std::unique_ptr<AgentRun>> m_agents;
    size_t m_next = 0;
    bool m_stopping = false;
    bool m_cancelled = false;
    bool m_flush_posted = false;
    bool m_finishing = false; // every agent finished: the sweep, then the final status
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
