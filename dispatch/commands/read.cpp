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
#include "dispatch/report.hpp"
#include "runner/capture.hpp"
#include "runner/run_store.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

constexpr std::chrono::milliseconds k_follow_poll{200};

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

// Where the last `lines` lines of an open file start (0 when it has fewer).
off_t tail_offset(int fd, size_t lines) {
    struct stat info {};
    if (::fstat(fd, &info) != 0 || info.st_size == 0) {
        return 0;
    }
    off_t end = info.st_size;
    char last = 0;
    // A final newline ends the last line; it does not start another.
    if (::pread(fd, &last, 1, end - 1) == 1 && last == '\n') {
        --end;
    }
    if (lines == 0) {
        return info.st_size;
    }
    std::vector<char> block(size_t{64} * 1024);
    size_t seen = 0;
    while (end > 0) {
        const off_t start = std::max<off_t>(0, end - static_cast<off_t>(block.size()));
        const ssize_t n = ::pread(fd, block.data(), static_cast<size_t>(end - start), start);
        if (n <= 0) {
            return 0;
        }
        for (ssize_t i = n - 1; i >= 0; --i) {
            if (block[static_cast<size_t>(i)] == '\n' && ++seen == lines) {
                return start + i + 1;
            }
        }
        end = start;
    }
    return 0;
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
    // One stream per agent; with several, lines interleave as they arrive, "[agent] " first.
    struct Stream {
        std::string name;
        Fd log;
        ConsoleStream out;
    };
    const bool prefixed = agents.size() > 1;
    std::vector<Stream> streams;
    streams.reserve(agents.size());
    for (const std::string& agent : agents) {
        streams.push_back({agent, Fd(), ConsoleStream(prefixed ? "[" + agent + "] " : "")});
    }
    // What a human may read (a terminal, or ssh and less behind a pipe) gets the agents' text
    // escaped; a file gets its bytes, and so does --raw.
    struct stat out {};
    const bool to_file = ::fstat(1, &out) == 0 && (S_ISREG(out.st_mode) || S_ISCHR(out.st_mode));
    const bool escaped = !args.raw && !(to_file && ::isatty(1) != 1);
    Console console(1, escaped ? AgentText::escaped : AgentText::raw);
    std::vector<char> buffer(k_copy_buffer_size);
    // Opens a log when it exists (a pending agent has none yet) and, the first time, skips to
    // its last N lines when --tail asks for it.
    const auto open_log = [&](Stream& stream) -> Status {
        if (stream.log.valid()) {
            return Ok{};
        }
        const std::string name = stream.name + ".log";
        Result<Fd> log = open_regular_at(run->dir.get(), name, std::numeric_limits<size_t>::max());
        if (!log) {
            const bool missing =
                ::faccessat(run->dir.get(), name.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) != 0 &&
                errno == ENOENT;
            if (missing && args.follow) {
                return Ok{};
            }
            return Error{log.error().kind, "run " + args.run_id + ": " + log.error().message};
        }
        stream.log = std::move(*log);
        if (args.tail) {
            ::lseek(stream.log.get(), tail_offset(stream.log.get(), *args.tail), SEEK_SET);
        }
        return Ok{};
    };
    const auto drain = [&](Stream& stream) -> Status {
        if (Status opened = open_log(stream); !opened || !stream.log.valid()) {
            return opened;
        }
        for (;;) {
            const ssize_t n = ::read(stream.log.get(), buffer.data(), buffer.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                return system_error(stream.name + ".log", errno);
            }
            if (n == 0) {
                return Ok{};
            }
            stream.out.write({buffer.data(), static_cast<size_t>(n)}, console);
        }
    };
    bool running = true;
    while (!console.broken()) {
        // Read the state before draining, so the last drain after the end sees every byte.
        if (args.follow) {
            Result<RunStatus> now = store.read_status(args.run_id);
            running = now && now->state == RunState::running;
        }
        for (Stream& stream : streams) {
            if (Status drained = drain(stream); !drained) {
                return fail(k_exit_setup, drained.error().message);
            }
        }
        if (!args.follow || !running) {
            break;
        }
        std::this_thread::sleep_for(k_follow_poll);
    }
    for (Stream& stream : streams) {
        stream.out.finish(console);
    }
    return k_exit_ok;
}

} // namespace fleet
