#include "capture.hpp"

#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "io.hpp"

namespace fleet {

namespace {

// A console line longer than this is cut (the log keeps it whole).
constexpr size_t k_max_partial_line = size_t{64} * 1024;

} // namespace

void Console::write(std::string_view data) {
    if (m_error != 0 || data.empty()) {
        return;
    }
    m_error = write_all(m_fd, data);
}

AgentOutput::AgentOutput(Fd log, std::string prefix)
    : m_log(std::move(log)), m_prefix(std::move(prefix)) {}

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

    if (m_prefix.empty()) {
        console.write(chunk);
        return failed_now;
    }
    // Prefixed mode: emit whole lines only, in one write per chunk.
    m_line_buffer.clear();
    size_t start = 0;
    while (start < chunk.size()) {
        const size_t newline = chunk.find('\n', start);
        if (newline == std::string_view::npos) {
            m_partial.append(chunk.substr(start));
            if (m_partial.size() > k_max_partial_line) {
                m_line_buffer += m_prefix + m_partial + "\n";
                m_partial.clear();
            }
            break;
        }
        m_line_buffer += m_prefix;
        m_line_buffer += m_partial;
        m_line_buffer.append(chunk.substr(start, newline + 1 - start));
        m_partial.clear();
        start = newline + 1;
    }
    console.write(m_line_buffer);
    return failed_now;
}

void AgentOutput::finish(Console& console) {
    if (!m_prefix.empty() && !m_partial.empty()) {
        console.write(m_prefix + m_partial + "\n");
        m_partial.clear();
    }
}

} // namespace fleet
