#include "dispatch/commands/read.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "base/untrusted_text.hpp"
#include "dispatch/commands/run.hpp"
#include "dispatch/config.hpp"
#include "dispatch/report.hpp"
#include "dispatch/summary.hpp"
#include "runner/capture.hpp"
#include "runner/log_follower.hpp"
#include "runner/run_store.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

// list --label KEY=VALUE (every one must match) and --state STATE.
bool matches(const RunStatus& status, const ListArgs& args) {
    if (!args.state.empty() && args.state != to_string(status.state)) {
        return false;
    }
    for (const auto& [key, value] : args.labels) {
        const auto found = status.labels.find(key);
        if (found == status.labels.end() || found->second != value) {
            return false;
        }
    }
    return true;
}

// What a human may read (a terminal, or ssh and less behind a pipe) gets the agents' text
// escaped; a file gets its bytes, and so does --raw.
AgentText text_for_reader(bool raw) {
    struct stat out {};
    const bool to_file = ::fstat(1, &out) == 0 && (S_ISREG(out.st_mode) || S_ISCHR(out.st_mode));
    return !raw && !(to_file && ::isatty(1) != 1) ? AgentText::escaped : AgentText::raw;
}

// Text read back from status.json (which the agents could write), made safe for a terminal.
std::string safe(const std::string& text) {
    return escape_untrusted(text, LineBreaks::escaped);
}

std::string labels_text(const RunStatus& status) {
    std::string text;
    for (const auto& [key, value] : status.labels) {
        text += (text.empty() ? "" : ",") + safe(key) + "=" + safe(value);
    }
    return text;
}

std::string agent_names(const RunStatus& status) {
    std::string names;
    for (const AgentStatus& agent : status.agents) {
        names += (names.empty() ? "" : ",") + safe(agent.name);
    }
    return names;
}

} // namespace

int list_runs(const ListArgs& args, const Session& session) {
    const RunStore store(session.runs_dir);
    Result<std::vector<std::string>> ids = store.list_ids();
    if (!ids) {
        return fail(k_exit_setup, ids.error().message);
    }
    // Ids order runs by the second they started in; runs of the same second are ordered by
    // their millisecond start time below. A limit keeps the whole second at the cut, so the
    // cut is exact.
    size_t keep = ids->size();
    if (args.limit != 0 && keep > args.limit) {
        keep = args.limit;
        while (keep < ids->size() && (*ids)[keep].compare(0, 15, (*ids)[keep - 1], 0, 15) == 0) {
            ++keep;
        }
        ids->resize(keep);
    }
    struct Listed {
        std::string second; // the id's date and time
        std::string started_at;
        std::string text; // a JSON object or a table row
    };
    std::vector<Listed> listed;
    listed.reserve(ids->size());
    const bool filtered = !args.labels.empty() || !args.state.empty();
    for (const std::string& id : *ids) {
        if (args.json && !filtered) {
            Result<CompactStatus> status = store.read_status_json(id);
            if (!status) {
                warn(status.error().message);
                continue;
            }
            listed.push_back({id.substr(0, 15), status->started_at, std::move(status->json)});
            continue;
        }
        Result<RunStatus> status = store.read_status(id);
        if (!status) {
            warn(status.error().message);
            continue;
        }
        if (!matches(*status, args)) {
            continue;
        }
        if (args.json) {
            listed.push_back({id.substr(0, 15), status->started_at, to_json(*status, -1)});
            continue;
        }
        char row[512];
        std::snprintf(row, sizeof row, "%-24s %-10s %-5s %-25s %-24s %s\n", id.c_str(),
                      to_string(status->state),
                      status->exit_code ? std::to_string(*status->exit_code).c_str() : "-",
                      safe(status->started_at).c_str(), agent_names(*status).c_str(),
                      labels_text(*status).c_str());
        listed.push_back({id.substr(0, 15), status->started_at, row});
    }
    std::stable_sort(listed.begin(), listed.end(), [](const Listed& a, const Listed& b) {
        return a.second != b.second ? a.second > b.second : a.started_at > b.started_at;
    });
    if (args.limit != 0 && listed.size() > args.limit) {
        listed.resize(args.limit);
    }
    std::string out;
    if (args.json) {
        out = "[";
        for (size_t i = 0; i < listed.size(); ++i) {
            out += (i == 0 ? "" : ",") + listed[i].text;
        }
        out += "]\n";
    } else {
        char header[160];
        std::snprintf(header, sizeof header, "%-24s %-10s %-5s %-25s %-24s %s\n", "RUN ID", "STATE",
                      "EXIT", "STARTED", "AGENTS", "LABELS");
        out = header;
        for (const Listed& entry : listed) {
            out += entry.text;
        }
    }
    write_all(1, out);
    return k_exit_ok;
}

int show_status(const StatusArgs& args, const Session& session) {
    const RunStore store(session.runs_dir);
    Result<RunStatus> status = store.read_status(args.run_id);
    if (!status) {
        return fail(status.error());
    }
    if (args.json) {
        write_all(1, to_json(*status, -1) + "\n");
        return k_exit_ok;
    }
    std::string text = summary_text(*status);
    text.erase(0, 1); // no blank line before it here
    text += "started " + safe(status->started_at) +
            (status->finished_at.empty() ? "" : ", finished " + safe(status->finished_at)) + "\n";
    if (!status->labels.empty()) {
        text += "labels: " + labels_text(*status) + "\n";
    }
    write_all(1, text);
    return k_exit_ok;
}

int print_logs(const LogsArgs& args, const Session& session) {
    const RunStore store(session.runs_dir);
    Result<RunStatus> status = store.read_status(args.run_id);
    if (!status) {
        return fail(status.error());
    }
    std::vector<std::string> agents;
    for (const AgentStatus& entry : status->agents) {
        if (args.agent.empty() || entry.name == args.agent) {
            agents.push_back(entry.name);
        }
    }
    if (agents.empty()) {
        return fail(k_exit_usage, "run " + args.run_id + " has no agent '" + args.agent +
                                      "' (agents: " + agent_names(*status) + ")");
    }
    if (agents.size() > 1 && !args.follow && !args.tail) {
        return fail(k_exit_usage, "run " + args.run_id + " has agents " + agent_names(*status) +
                                      "; choose one with --agent, or follow them all with -f");
    }
    Result<RunDir> run = store.open_run(args.run_id);
    if (!run) {
        return fail(k_exit_setup, run.error().message);
    }
    Console console(1, text_for_reader(args.raw));
    FollowOptions options;
    options.follow = args.follow;
    options.tail = args.tail;
    if (Status copied = copy_logs(store, *run, agents, options, console); !copied) {
        return fail(k_exit_setup, copied.error().message);
    }
    return k_exit_ok;
}

namespace {

// The agents of `status` that `args` names and that worked on a repository; a usage error
// when the one named is not there or had none.
Result<std::vector<const AgentStatus*>> diff_agents(const DiffArgs& args, const RunStatus& status) {
    std::vector<const AgentStatus*> agents;
    bool named = false;
    for (const AgentStatus& agent : status.agents) {
        if (!args.agent.empty() && agent.name != args.agent) {
            continue;
        }
        named = true;
        if (agent.repo) {
            agents.push_back(&agent);
        }
    }
    if (!named) {
        return input_error("run " + args.run_id + " has no agent '" + args.agent +
                           "' (agents: " + agent_names(status) + ")");
    }
    if (agents.empty()) {
        return input_error("run " + args.run_id + ": " +
                           (args.agent.empty() ? "no agent" : "agent " + args.agent) +
                           " worked on a repository");
    }
    return agents;
}

} // namespace

int print_diff(const DiffArgs& args, const Session& session) {
    const RunStore store(session.runs_dir);
    Result<RunStatus> status = store.read_status(args.run_id);
    if (!status) {
        return fail(status.error());
    }
    Result<std::vector<const AgentStatus*>> agents = diff_agents(args, *status);
    if (!agents) {
        return fail(agents.error());
    }
    const auto changed = std::count_if(agents->begin(), agents->end(),
                                       [](const AgentStatus* a) { return a->repo->changed; });
    if (!args.stat && changed > 1) {
        return fail(k_exit_usage, "run " + args.run_id + ": several agents changed something; " +
                                      "choose one with --agent, or see them all with --stat");
    }
    Result<RunDir> run = store.open_run(args.run_id);
    if (!run) {
        return fail(k_exit_setup, run.error().message);
    }
    // The patch and the stat are the agent's text: escaped for a reader, as the logs are.
    Console console(1, text_for_reader(args.raw));
    for (const AgentStatus* agent : *agents) {
        const AgentRepo& repo = *agent->repo;
        if (args.stat) {
            const std::string line = safe(agent->name) + ": " + changes_text(repo) +
                                     (repo.changed ? " on " + safe(repo.branch) : std::string());
            write_all(1, line + (repo.error.empty() ? "" : " (" + safe(repo.error) + ")") + "\n");
        }
        // The name comes from status.json, which an agent could rewrite: it names a file only
        // when it is an agent's name.
        if (!repo.changed || repo.patch.empty() || !is_valid_name(agent->name)) {
            continue;
        }
        const std::string name = agent->name + (args.stat ? ".diffstat" : ".diff");
        Result<Fd> file = open_regular_at(run->dir.get(), name, std::numeric_limits<size_t>::max());
        if (!file) {
            return fail(k_exit_setup, name + ": " + file.error().message);
        }
        ConsoleStream stream("");
        char buffer[65536];
        ssize_t n = 0;
        while ((n = ::read(file->get(), buffer, sizeof buffer)) > 0) {
            stream.write(std::string_view(buffer, static_cast<size_t>(n)), console);
        }
        stream.finish(console);
        if (n < 0) {
            return fail(k_exit_setup, name + ": " + std::strerror(errno));
        }
    }
    return k_exit_ok;
}

} // namespace fleet
