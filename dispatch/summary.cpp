#include "dispatch/summary.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sys/ioctl.h>

#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "base/untrusted_text.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

constexpr size_t k_max_summary_note = 100;

} // namespace

void LiveDisplay::draw(const std::vector<LiveAgent>& agents) {
    winsize size{};
    const size_t columns =
        ::ioctl(m_fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 20 ? size.ws_col : 100;
    std::string frame;
    if (m_lines > 0) {
        frame += "\x1b[" + std::to_string(m_lines) + "A";
    }
    for (const LiveAgent& agent : agents) {
        char head[160];
        std::snprintf(head, sizeof head, "%-16.16s %-12s %6.1fs %10llu B  ", agent.name.c_str(),
                      to_string(agent.state), std::chrono::duration<double>(agent.elapsed).count(),
                      static_cast<unsigned long long>(agent.bytes));
        std::string line = head + escape_untrusted(agent.last_line, LineBreaks::escaped);
        if (line.size() > columns - 1) {
            line.resize(columns - 1);
        }
        frame += "\x1b[2K" + line + "\n";
    }
    m_lines = agents.size();
    write_all(m_fd, frame);
}

namespace {

// The time between two timestamps, "12.3s"; "-" when either is missing.
std::string format_seconds(const std::string& from, const std::string& to) {
    WallTime start, end;
    if (!parse_timestamp(from, start) || !parse_timestamp(to, end)) {
        return "-";
    }
    const double seconds = std::chrono::duration<double>(end - start).count();
    char text[32];
    std::snprintf(text, sizeof text, "%.1fs", seconds);
    return text;
}

// How an agent was confined when not fully: said first, so it is never cut off or silent.
std::string confinement_note(const AgentStatus& agent) {
    if (!agent.confinement || agent.confinement->level == ConfinementLevel::full) {
        return "";
    }
    if (agent.confinement->level == ConfinementLevel::off) {
        return "UNCONFINED (confine = off)";
    }
    if (agent.confinement->level == ConfinementLevel::none) {
        return "UNCONFINED (no Landlock)";
    }
    return "partly confined (Landlock ABI " + std::to_string(agent.confinement->landlock_abi) + ")";
}

// What an agent's cgroup counted: "peak 64 MiB, cpu 0.1s"; "" without a cgroup.
std::string resources_note(const AgentStatus& agent) {
    if (!agent.resources) {
        return "";
    }
    std::string note;
    if (agent.resources->memory_peak) {
        note = "peak " + format_bytes(*agent.resources->memory_peak);
    }
    if (agent.resources->cpu_seconds) {
        char cpu[32];
        std::snprintf(cpu, sizeof cpu, "cpu %.1fs", *agent.resources->cpu_seconds);
        note += (note.empty() ? "" : ", ") + std::string(cpu);
    }
    return note;
}

// What an agent changed in its repository, and what could not be done; "" without one.
std::string changes_note(const AgentStatus& agent) {
    if (!agent.repo || !agent.repo->collected) {
        return "";
    }
    const AgentRepo& repo = *agent.repo;
    return changes_text(repo) + (repo.error.empty() ? "" : "; changes: " + repo.error);
}

} // namespace

std::string changes_text(const AgentRepo& repo) {
    if (!repo.collected) {
        return "not collected";
    }
    if (!repo.changed) {
        return "no changes";
    }
    return std::to_string(repo.files) + (repo.files == 1 ? " file, +" : " files, +") +
           std::to_string(repo.insertions) + " -" + std::to_string(repo.deletions);
}

std::string summary_text(const RunStatus& status, size_t budget) {
    // status.json is read back from a directory the agents could write: every text in it is
    // escaped on its way to the operator's terminal, one line per field.
    const auto safe = [](const std::string& text) {
        return escape_untrusted(text, LineBreaks::escaped);
    };
    std::string run_dir;
    if (!status.agents.empty()) {
        const std::string& log = status.agents.front().log;
        run_dir = safe(log.substr(0, log.rfind('/')));
    }
    std::string text = "\n== run " + safe(status.run_id) + ": " + to_string(status.state) +
                       " (exit " + std::to_string(status.exit_code.value_or(-1)) + "); logs in " +
                       run_dir + "\n";
    if (!status.pid_namespace) {
        text += "no PID namespace for this run (" + safe(status.no_pid_namespace) +
                "): an agent's processes may outlive it\n";
    }
    if (status.limits.mode != to_string(LimitsMode::off) && !status.limits.applied) {
        text += "limits not applied (" + safe(status.limits.not_applied) +
                "): agents have no memory, process or CPU limit\n";
    }
    int width = 5;
    for (const AgentStatus& agent : status.agents) {
        width = std::min(40, std::max(width, static_cast<int>(safe(agent.name).size())));
    }
    size_t shown = 0;
    for (const AgentStatus& agent : status.agents) {
        const std::string outcome = agent.exit_code ? "exit " + std::to_string(*agent.exit_code)
                                    : agent.signal  ? "signal " + std::to_string(*agent.signal)
                                                    : "-";
        std::string note = confinement_note(agent);
        if (agent.state != AgentState::succeeded && !agent.reason.empty()) {
            note += (note.empty() ? "" : "; ") + agent.reason;
        }
        if (!agent.log_error.empty()) {
            note += (note.empty() ? "" : "; ") + agent.log_error;
        }
        for (const std::string& more : {resources_note(agent), changes_note(agent)}) {
            if (!more.empty()) {
                note += (note.empty() ? "" : "; ") + more;
            }
        }
        note = note.size() > k_max_summary_note
                   ? safe(note.substr(0, k_max_summary_note - 3)) + "..."
                   : safe(note);
        char line[512];
        std::snprintf(line, sizeof line, "%-*.*s  %-12s %-10s %7s %10llu B%s%s\n", width, width,
                      safe(agent.name).c_str(), to_string(agent.state), outcome.c_str(),
                      format_seconds(agent.started_at, agent.finished_at).c_str(),
                      static_cast<unsigned long long>(agent.bytes), note.empty() ? "" : "  ",
                      note.c_str());
        // SSM's console shows 2,500 characters: the summary stays within its budget.
        const std::string more = "... and " + std::to_string(status.agents.size() - shown) +
                                 " more agents: dispatch status " + safe(status.run_id) + "\n";
        if (text.size() + std::strlen(line) + more.size() > budget) {
            text += more;
            break;
        }
        text += line;
        ++shown;
    }
    return text;
}

std::string result_line(const RunStatus& status) {
    const auto quoted = [](const std::string& text) {
        return nlohmann::json(text).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
    };
    const std::string head =
        "{\"run_id\":" + quoted(status.run_id) + ",\"state\":" + quoted(to_string(status.state)) +
        ",\"exit_code\":" + (status.exit_code ? std::to_string(*status.exit_code) : "null") +
        ",\"agents\":[";
    const auto tail = [&](size_t more) {
        return "],\"more_agents\":" + std::to_string(more) + "}\n";
    };
    std::string agents;
    size_t shown = 0;
    for (const AgentStatus& agent : status.agents) {
        const std::string entry = std::string(shown == 0 ? "" : ",") +
                                  "{\"name\":" + quoted(agent.name) +
                                  ",\"state\":" + quoted(to_string(agent.state)) + "}";
        const size_t more = status.agents.size() - shown - 1;
        if (head.size() + agents.size() + entry.size() + tail(more).size() > k_max_result_line) {
            break;
        }
        agents += entry;
        ++shown;
    }
    return head + agents + tail(status.agents.size() - shown);
}

std::string run_end_text(const RunStatus& status) {
    const std::string result = result_line(status);
    return summary_text(status, k_max_summary - result.size()) + result;
}

} // namespace fleet
