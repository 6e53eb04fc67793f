#include "dispatch/commands/operate.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <set>
#include <signal.h>
#include <thread>

#include "base/duration.hpp"
#include "base/untrusted_text.hpp"
#include "dispatch/report.hpp"
#include "runner/agent_repo.hpp"
#include "runner/proc.hpp"
#include "runner/run_store.hpp"

namespace fleet {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds k_poll{200};

// Polls until `done(status)` or the deadline; returns the last status read.
template <typename Done>
Result<RunStatus> poll_status(const RunStore& store, const std::string& id,
                              std::optional<Clock::time_point> deadline, Done done) {
    for (;;) {
        Result<RunStatus> status = store.read_status(id);
        if (!status || done(*status) || (deadline && Clock::now() >= *deadline)) {
            return status;
        }
        std::this_thread::sleep_for(k_poll);
    }
}

bool is_running(const RunStatus& status) {
    return status.state == RunState::running;
}

} // namespace

int wait_run(const WaitArgs& args, const Session& session) {
    const RunStore store(session.runs_dir);
    std::optional<Clock::time_point> deadline;
    if (args.timeout) {
        deadline = Clock::now() + *args.timeout;
    }
    Result<RunStatus> status = poll_status(store, args.run_id, deadline,
                                           [](const RunStatus& s) { return !is_running(s); });
    if (!status) {
        return fail(status.error());
    }
    if (is_running(*status)) {
        return fail(k_exit_timed_out, "wait timed out after " + format_duration(*args.timeout) +
                                          "; run " + args.run_id + " still goes on");
    }
    if (status->state == RunState::lost) {
        return fail(k_exit_agent_failed,
                    "run " + args.run_id + " was lost: its runner died without finishing");
    }
    std::printf("run %s: %s (exit %d)\n", args.run_id.c_str(), to_string(status->state),
                status->exit_code.value_or(k_exit_agent_failed));
    return status->exit_code.value_or(k_exit_agent_failed);
}

int cancel_run(const CancelArgs& args, const Session& session) {
    const RunStore store(session.runs_dir);
    Result<RunStatus> status = store.read_status(args.run_id);
    if (!status) {
        return fail(status.error());
    }
    if (!args.agent.empty()) {
        bool known = false;
        for (const AgentStatus& agent : status->agents) {
            known = known || agent.name == args.agent;
        }
        if (!known) {
            return fail(k_exit_usage, "run " + args.run_id + " has no agent '" + args.agent + "'");
        }
    }
    if (!is_running(*status)) {
        std::printf("run %s is not running (%s); nothing to cancel\n", args.run_id.c_str(),
                    to_string(status->state));
        return k_exit_ok;
    }
    Result<RunDir> run = store.open_run(args.run_id);
    if (!run) {
        return fail(run.error());
    }
    // Verify before signalling: the recorded pid must still be the same process, holding the lock.
    const auto start = status->pid > 0 ? process_start_time(status->pid) : std::nullopt;
    if (!start || *start != status->pid_start || !run_lock_is_held(run->dir.get())) {
        return fail(k_exit_agent_failed, "the runner of run " + args.run_id + " (pid " +
                                             std::to_string(status->pid) +
                                             ") cannot be verified; nothing was signalled");
    }
    if (args.agent.empty()) {
        if (::kill(status->pid, SIGTERM) != 0) {
            return fail(k_exit_setup, std::string("kill: ") + std::strerror(errno));
        }
    } else {
        const std::string request = "cancel-" + args.agent;
        const Fd fd(::openat(run->dir.get(), request.c_str(),
                             O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600));
        if (!fd.valid() || ::kill(status->pid, SIGUSR1) != 0) {
            return fail(k_exit_setup,
                        "request cancel of " + args.agent + ": " + std::strerror(errno));
        }
    }
    const auto deadline = Clock::now() + session.config.grace + std::chrono::seconds(10);
    const std::string agent = args.agent;
    status = poll_status(store, args.run_id, deadline, [&agent](const RunStatus& s) {
        if (agent.empty()) {
            return !is_running(s);
        }
        for (const AgentStatus& entry : s.agents) {
            if (entry.name == agent) {
                return entry.state != AgentState::running && entry.state != AgentState::pending;
            }
        }
        return true;
    });
    if (!status) {
        return fail(status.error());
    }
    if (agent.empty()) {
        std::printf("run %s: %s\n", args.run_id.c_str(), to_string(status->state));
    } else {
        for (const AgentStatus& entry : status->agents) {
            if (entry.name == agent) {
                std::printf("run %s, agent %s: %s\n", args.run_id.c_str(), agent.c_str(),
                            to_string(entry.state));
            }
        }
    }
    return k_exit_ok;
}

namespace {

// A pruned run's branches, fleet/RUN/*, out of each origin its agents worked on (as the user:
// git in the origin, runner/agent_repo.hpp); a problem is a warning, the run is pruned anyway.
// `dry_run`: only said.
void remove_branches(const std::string& id, const RunStatus& status, bool dry_run) {
    std::set<std::string> origins;
    for (const AgentStatus& agent : status.agents) {
        if (agent.repo && agent.repo->in_origin) {
            origins.insert(agent.repo->origin);
        }
    }
    for (const std::string& origin : origins) {
        // Read back from status.json, which an agent could write: escaped for the terminal.
        const std::string shown = escape_untrusted(origin, LineBreaks::escaped);
        if (dry_run) {
            std::printf("would remove branches fleet/%s/* from %s\n", id.c_str(), shown.c_str());
            continue;
        }
        Result<size_t> removed = remove_run_branches(origin, id);
        if (!removed) {
            warn("branches of " + id + " in " + shown + ": " +
                 escape_untrusted(removed.error().message, LineBreaks::escaped));
        } else if (*removed > 0) {
            std::printf("removed %zu branch%s fleet/%s/* from %s\n", *removed,
                        *removed == 1 ? "" : "es", id.c_str(), shown.c_str());
        }
    }
}

} // namespace

int prune_runs(const PruneArgs& given, const Session& session) {
    PruneArgs args = given;
    if (!args.older_than && !args.keep) { // the prune timer's: the config says how old
        args.older_than = session.config.prune_older_than;
        if (!args.older_than) {
            std::printf("prune: nothing to do: no --older-than or --keep, and prune_older_than "
                        "is not set in the config\n");
            return k_exit_ok;
        }
        std::printf("prune: finished runs started more than %s ago (prune_older_than)\n",
                    format_duration(*args.older_than).c_str());
    }
    const RunStore store(session.runs_dir);
    Result<std::vector<std::string>> ids = store.list_ids();
    if (!ids) {
        return fail(k_exit_setup, ids.error().message);
    }
    const WallTime now = std::chrono::system_clock::now();
    size_t removed = 0, running = 0;
    // The id is the directory's own name as listed (a valid run id, list_ids): never the run_id
    // status.json claims, which the agent could have rewritten to "../..".
    struct Finished {
        std::string id;
        RunStatus status;
    };
    std::vector<Finished> finished;
    for (const std::string& id : *ids) {
        Result<RunStatus> status = store.read_status(id);
        if (!status) {
            warn(status.error().message);
        } else if (is_running(*status)) {
            ++running;
        } else {
            finished.push_back({id, std::move(*status)});
        }
    }
    // Newest first to the millisecond (ids alone order runs only to the second).
    std::stable_sort(finished.begin(), finished.end(), [](const Finished& a, const Finished& b) {
        return a.status.started_at > b.status.started_at;
    });
    for (size_t index = 0; index < finished.size(); ++index) {
        const auto& [id, status] = finished[index];
        if (args.keep && index < *args.keep) {
            continue;
        }
        WallTime started;
        if (args.older_than && parse_timestamp(status.started_at, started) &&
            now - started < *args.older_than) {
            continue;
        }
        remove_branches(id, status, args.dry_run);
        if (args.dry_run) {
            std::printf("would remove %s (%s)\n", id.c_str(), to_string(status.state));
            ++removed;
            continue;
        }
        std::error_code error;
        // remove_all removes symlinks themselves, never what they point to.
        std::filesystem::remove_all(store.path() + "/" + id, error);
        if (error) {
            warn("remove " + id + ": " + error.message());
            continue;
        }
        std::printf("removed %s (%s)\n", id.c_str(), to_string(status.state));
        ++removed;
    }
    std::printf("%s %zu of %zu finished runs; %zu running left alone\n",
                args.dry_run ? "would prune" : "pruned", removed, finished.size(), running);
    return k_exit_ok;
}

} // namespace fleet
