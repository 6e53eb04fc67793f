// In-process tee: each chunk an agent writes goes to its log, byte for byte, and to dispatch's
// stdout. Replaces `bash -c "agent 2>&1 | tee log"` (docs/design/performance.md §6):
//   - the log is written with write(2) on an O_CLOEXEC fd, never through spdlog (which adds a
//     newline per message and forces O_APPEND);
//   - a closed stdout (EPIPE; SIGPIPE is ignored) stops console output, the log goes on;
//   - a failing log (ENOSPC) is remembered, the agent and the console go on;
//   - with several agents the console gets whole lines prefixed "[agent] ", the log stays raw;
//   - a console that is a terminal gets the agents' text escaped (untrusted_text.hpp): an agent
//     cannot send escape sequences to the operator's terminal. Pipes and files get every byte.
// Console writes block like tee's: a reader that stops reading slows the agents down.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/untrusted_text.hpp"
#include "sys/fd.hpp"

namespace fleet {

// The read buffer of the copy loop: 128 KiB ran at cat speed where tee's 8 KiB took twice as
// long (docs/design/performance.md §3, table C1: 0.99 s vs 1.90 s for 2 GiB). With the
// runner's 1 MiB pipes (supervisor.cpp) a 1 MiB buffer was no faster for one agent (1 GiB:
// 0.50 s against 0.54 s, medians of 7) and cost twice the runner's CPU with 32 agents at once
// (1.11 s against 0.48 s per GiB, medians of 12, alternating), probably as 128 KiB stays in the
// CPU's cache.
constexpr size_t k_copy_buffer_size = size_t{128} * 1024;

// How a console shows agents' text: the bytes they wrote, or escaped (untrusted_text.hpp).
enum class AgentText { raw, escaped };

// What a run's console does: escaped on a terminal, raw to a pipe or a file (what reads those
// is a program, and the bytes keep their speed: docs/benchmarks.md).
AgentText agent_text_for(int fd);

class Console {
public:
    // `fd` -1: a console that takes nothing (dispatch's output goes to /dev/null anyway).
    explicit Console(int fd) : Console(fd, agent_text_for(fd)) {}
    Console(int fd, AgentText text) : m_fd(fd), m_escapes(text == AgentText::escaped) {}

    // Writes all of `data`; after the first error every later write is dropped.
    void write(std::string_view data);

    int fd() const { return m_fd; }
    // Whether agents' text is escaped on its way out (ConsoleStream).
    bool escapes() const { return m_escapes; }
    bool broken() const { return m_error != 0; }
    int error() const { return m_error; }

private:
    int m_fd;
    bool m_escapes;
    int m_error = 0;
};

// Turns chunks of one stream into whole lines, each starting with `prefix`; a line longer than
// 64 KiB is cut. Used for the console of several agents and by `logs -f`.
class LinePrefixer {
public:
    explicit LinePrefixer(std::string prefix) : m_prefix(std::move(prefix)) {}

    // The complete lines `chunk` finishes, prefixed; keeps an unfinished last line.
    std::string feed(std::string_view chunk);

    // The unfinished last line, prefixed and ended with a newline; empty if there is none.
    std::string finish();

private:
    std::string m_prefix;
    std::string m_partial;
};

// One stream of an agent's text on its way to the console: whole lines, each starting with
// `prefix`, when a prefix is given (several agents), else chunks as they come; escaped first
// when the console escapes (then with a prefix a carriage return is escaped too, so one agent
// cannot overwrite its prefix with another's). A raw console gets the bytes unchanged, without
// a copy when there is no prefix.
class ConsoleStream {
public:
    explicit ConsoleStream(std::string prefix)
        : m_prefixed(!prefix.empty()), m_lines(std::move(prefix)),
          m_escaper(m_prefixed ? CarriageReturn::escaped : CarriageReturn::kept) {}

    void write(std::string_view chunk, Console& console);
    // The end of the stream: what is held back (an unfinished line or UTF-8 sequence).
    void finish(Console& console);

private:
    bool m_prefixed;
    LinePrefixer m_lines;
    TerminalEscaper m_escaper; // only used when the console is a terminal
};

// Whether an AgentOutput remembers the agent's last line (only a live display needs it, and
// finding it scans every chunk once more).
enum class TrackLastLine { no, yes };

class AgentOutput {
public:
    // `prefix` empty: raw console output; otherwise each console line starts with it.
    AgentOutput(Fd log, std::string prefix, TrackLastLine track = TrackLastLine::no);

    // Copies one chunk. Returns true only on the call where the log first failed.
    bool consume(std::string_view chunk, Console& console);

    // Ends the console stream (ConsoleStream::finish).
    void finish(Console& console);

    uint64_t bytes() const { return m_bytes; }
    const std::string& log_error() const { return m_log_error; }
    // The last non-empty line the agent wrote (cut to 200 bytes) when tracked, for a display.
    const std::string& last_line() const { return m_last_line; }

private:
    void track_last_line(std::string_view chunk);

    Fd m_log;
    TrackLastLine m_track;
    ConsoleStream m_console;
    uint64_t m_bytes = 0;
    std::string m_log_error;
    std::string m_last_line;
    std::string m_current_line;
};

} // namespace fleet
