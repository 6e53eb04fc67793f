// What a run shows its operator: the live display while several agents run on a terminal, and
// the summary at its end (also `dispatch status`). Every text in them comes from the agents or
// from files they could write: it is escaped (untrusted_text.hpp), so it can neither move the
// cursor nor retitle the terminal, and each field stays one line.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "runner/status.hpp"
#include "runner/supervisor.hpp"

namespace fleet {

// One frame a tick: a line per agent (name, state, time, bytes, its last line), redrawn in
// place (cursor up, clear line), cut to the terminal's width.
class LiveDisplay {
public:
    explicit LiveDisplay(int fd = 1) : m_fd(fd) {}
    void draw(const std::vector<LiveAgent>& agents);

private:
    int m_fd;
    size_t m_lines = 0;
};

// What an agent changed in its repository: "3 files, +40 -2", "1 file, +1 -0", "no changes",
// "not collected" (not finished, or it never ran). The summary and `diff --stat` say it so.
std::string changes_text(const AgentRepo& repo);

// SSM's console shows the first 2,500 characters of a command's output: "run-id: ID" (31),
// then at most this much of the end of a run (the summary and its result line).
constexpr size_t k_max_summary = 2000;
constexpr size_t k_max_result_line = 500;

// The summary: the run's state, exit code and directory, then a line per agent; at most
// `budget` characters, the agents that do not fit counted.
std::string summary_text(const RunStatus& status, size_t budget = k_max_summary);

// The run's result as one line of ASCII JSON, a newline at its end, at most k_max_result_line
// bytes: {"run_id":…,"state":…,"exit_code":…,"agents":[{"name":…,"state":…}…],
// "more_agents":N}, the first keys of status.json's shape; the agents that do not fit are
// left off and counted in more_agents (0 when every one is there).
std::string result_line(const RunStatus& status);

// What a run prints at its end (--console full and summary): the summary, then its result
// line, the last line of the output, together within k_max_summary.
std::string run_end_text(const RunStatus& status);

} // namespace fleet
