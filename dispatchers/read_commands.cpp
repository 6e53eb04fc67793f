#include "read_commands.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "capture.hpp"
#include "io.hpp"
#include "run_command.hpp"
#include "run_store.hpp"

namespace fleet {

namespace {

int fail(int code, const std::string& message) {
    std::fprintf(stderr, "dispatch: %s\n", message.c_str());
    return code;
}

std::string agent_names(const RunStatus& status) {
    std::string names;
    for (const AgentStatus& agent : status.agents) {
        names += (names.empty() ? "" : ",") + agent.name;
    }
    return names;
}

} // namespace

int list_runs(const CommandLine& line, const Session& session) {
    const RunStore store(session.runs_dir);
    Result<std::vector<std::string>> ids = store.list_ids();
    if (!ids) {
        return fail(k_exit_setup, ids.error().message);
    }
    if (line.limit != 0 && ids->size() > line.limit) {
        ids->resize(line.limit);
    }
    std::string out = line.json ? "[" : "";
    if (!line.json) {
        char header[160];
        std::snprintf(header, sizeof header, "%-24s %-10s %-5s %-25s %s\n", "RUN ID", "STATE",
                      "EXIT", "STARTED", "AGENTS");
        out += header;
    }
    bool first = true;
    for (const std::string& id : *ids) {
        if (line.json) {
            Result<std::string> text = store.read_status_json(id);
            if (!text) {
                std::fprintf(stderr, "dispatch: %s\n", text.error().message.c_str());
                continue;
            }
            if (!first) {
                out += ',';
            }
            out += *text;
            first = false;
            continue;
        }
        Result<RunStatus> status = store.read_status(id);
        if (!status) {
            std::fprintf(stderr, "dispatch: %s\n", status.error().message.c_str());
            continue;
        }
        char row[512];
        std::snprintf(row, sizeof row, "%-24s %-10s %-5s %-25s %s\n", id.c_str(),
                      to_string(status->state),
                      status->exit_code ? std::to_string(*status->exit_code).c_str() : "-",
                      status->started_at.c_str(), agent_names(*status).c_str());
        out += row;
    }
    if (line.json) {
        out += "]\n";
    }
    write_all(1, out);
    return k_exit_ok;
}

int show_status(const CommandLine& line, const Session& session) {
    const RunStore store(session.runs_dir);
    Result<RunStatus> status = store.read_status(line.run_id);
    if (!status) {
        return fail(status.error().kind == ErrorKind::invalid_input ? k_exit_usage : k_exit_setup,
                    status.error().message);
    }
    if (line.json) {
        write_all(1, to_json(*status, -1) + "\n");
        return k_exit_ok;
    }
    std::string text = summary_text(*status);
    text.erase(0, 1); // no blank line before it here
    text += "started " + status->started_at +
            (status->finished_at.empty() ? "" : ", finished " + status->finished_at) + "\n";
    write_all(1, text);
    return k_exit_ok;
}

int print_logs(const CommandLine& line, const Session& session) {
    const RunStore store(session.runs_dir);
    Result<RunStatus> status = store.read_status(line.run_id);
    if (!status) {
        return fail(status.error().kind == ErrorKind::invalid_input ? k_exit_usage : k_exit_setup,
                    status.error().message);
    }
    std::string agent = line.agent;
    if (agent.empty()) {
        if (status->agents.size() != 1) {
            return fail(k_exit_usage, "run " + line.run_id + " has agents " + agent_names(*status) +
                                          "; choose one with --agent");
        }
        agent = status->agents[0].name;
    }
    bool known = false;
    for (const AgentStatus& entry : status->agents) {
        known = known || entry.name == agent;
    }
    if (!known) {
        return fail(k_exit_usage, "run " + line.run_id + " has no agent '" + agent +
                                      "' (agents: " + agent_names(*status) + ")");
    }
    Result<RunDir> run = store.open_run(line.run_id);
    if (!run) {
        return fail(k_exit_setup, run.error().message);
    }
    const std::string name = agent + ".log";
    const Fd log(::openat(run->dir.get(), name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!log.valid()) {
        return fail(k_exit_setup, "run " + line.run_id + ": " + name + ": " + std::strerror(errno));
    }
    std::vector<char> buffer(k_copy_buffer_size);
    for (;;) {
        const ssize_t n = ::read(log.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return fail(k_exit_setup, name + ": " + std::strerror(errno));
        }
        if (n == 0 || write_all(1, {buffer.data(), static_cast<size_t>(n)}) != 0) {
            return k_exit_ok;
        }
    }
}

} // namespace fleet
