// What a run shows its operator: the live display while several agents run on a terminal, and
// the summary at its end (also `dispatch status`). Every text in them comes from the agents or
// from files they could write: it is escaped (untrusted_text.hpp), so it can neither move the
// cursor nor retitle the terminal, and each field stays one line.
#pragma once

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

// The summary: the run's state, exit code and directory, then a line per agent; at most 2,000
// characters (SSM's console shows 2,500), the agents that do not fit counted.
std::string summary_text(const RunStatus& status);

} // namespace fleet
