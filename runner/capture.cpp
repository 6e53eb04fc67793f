#include "runner/capture.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "sys/io.hpp"

namespace fleet {

namespace {

// A console line longer than this is cut (the log keeps it whole).
constexpr size_t k_max_partial_line = size_t{64} * 1024;

} // namespace

AgentText agent_text_for(int fd) {
    return fd >= 0 && ::isatty(fd) == 1 ? AgentText::escaped : AgentText::raw;
}

void Console::write(std::string_view data) {
    if (m_fd < 0 || m_error != 0 || data.empty()) {
        return;
    }
    m_error = write_all(m_fd, data);
}

std::string LinePrefixer::feed(std::string_view chunk) {
    std::string lines;
    size_t start = 0;
    while (start < chunk.size()) {
        const size_t newline = chunk.find('\n', start);
        if (newline == std::string_view::npos) {
            m_partial.append(chunk.substr(start));
            if (m_partial.size() > k_max_partial_line) {
                lines += m_prefix + m_partial + "\n";
                m_partial.clear();
            }
            break;
        }
        lines += m_prefix;
        lines += m_partial;
        lines.append(chunk.substr(start, newline + 1 - start));
        m_partial.clear();
        start = newline + 1;
    }
    return lines;
}

std::string LinePrefixer::finish() {
    if (m_partial.empty()) {
        return "";
    }
    std::string line = m_prefix + m_partial + "\n";
    m_partial.clear();
    return line;
}

void ConsoleStream::write(std::string_view chunk, Console& console) {
    if (!console.escapes()) {
        if (m_prefixed) {
            console.write(m_lines.feed(chunk));
        } else {
            console.write(chunk);
        }
        return;
    }
    const std::string text = m_escaper.feed(chunk);
    console.write(m_prefixed ? m_lines.feed(text) : text);
}

void ConsoleStream::finish(Console& console) {
    if (console.escapes()) {
        const std::string held = m_escaper.finish();
        console.write(m_prefixed ? m_lines.feed(held) : held);
    }
    console.write(m_lines.finish());
}

AgentOutput::AgentOutput(Fd log, std::string prefix, TrackLastLine track)
    : m_log(std::move(log)), m_track(track), m_console(std::move(prefix)) {}

bool AgentOutput::consume(std::string_view chunk, Console& console) {
    bool failed_now = false;
    if (m_log_error.empty()) {
        size_t done = 0;
        while (done < chunk.size()) {
            const ssize_t n = ::write(m_log.get(), chunk.data() + done, chunk.size() - done);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                m_log_error = std::string("write log: ") + std::strerror(errno);
                failed_now = true;
                break;
            }
            done += static_cast<size_t>(n);
            m_bytes += static_cast<uint64_t>(n);
        }
    }
    if (m_track == TrackLastLine::yes) {
        track_last_line(chunk);
    }
    m_console.write(chunk, console);
    return failed_now;
}

void AgentOutput::track_last_line(std::string_view chunk) {
    constexpr size_t k_max = 200;
    std::string candidate;
    const size_t newline = chunk.rfind('\n');
    if (newline == std::string_view::npos) {
        m_current_line.append(chunk.substr(0, k_max - std::min(k_max, m_current_line.size())));
        candidate = m_current_line;
    } else {
        // The line the chunk completes last, then the partial line after it.
        const size_t previous =
            newline == 0 ? std::string_view::npos : chunk.rfind('\n', newline - 1);
        std::string completed =
            previous == std::string_view::npos
                ? m_current_line + std::string(chunk.substr(0, newline))
                : std::string(chunk.substr(previous + 1, newline - previous - 1));
        m_current_line.assign(chunk.substr(newline + 1, k_max));
        candidate = m_current_line.empty() ? std::move(completed) : m_current_line;
    }
    while (!candidate.empty() && (candidate.back() == '\r' || candidate.back() == ' ')) {
        candidate.pop_back();
    }
    if (!candidate.empty()) {
        m_last_line = candidate.substr(0, k_max);
    }
}

void AgentOutput::finish(Console& console) {
    m_console.finish(console);
}

} // namespace fleet
