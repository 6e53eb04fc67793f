#include "runner/log_follower.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <limits>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "sys/io.hpp"

namespace fleet {

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

namespace {

// One agent's log on its way to the console.
class LogStream {
public:
    LogStream(std::string agent, bool prefixed)
        : m_agent(std::move(agent)), m_out(prefixed ? "[" + m_agent + "] " : "") {}

    // Copies what the log holds now; opens it first when it exists (and, the first time, skips
    // to its last N lines when asked).
    Status drain(const RunDir& run, const FollowOptions& options, std::vector<char>& buffer,
                 Console& console) {
        if (Status opened = open(run, options); !opened || !m_log.valid()) {
            return opened;
        }
        for (;;) {
            const ssize_t n = ::read(m_log.get(), buffer.data(), buffer.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                return system_error(m_agent + ".log", errno);
            }
            if (n == 0) {
                return Ok{};
            }
            m_out.write({buffer.data(), static_cast<size_t>(n)}, console);
        }
    }

    void finish(Console& console) { m_out.finish(console); }

private:
    Status open(const RunDir& run, const FollowOptions& options) {
        if (m_log.valid()) {
            return Ok{};
        }
        const std::string name = m_agent + ".log";
        Result<Fd> log = open_regular_at(run.dir.get(), name, std::numeric_limits<size_t>::max());
        if (!log) {
            const bool missing =
                ::faccessat(run.dir.get(), name.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) != 0 &&
                errno == ENOENT;
            if (missing && options.follow) {
                return Ok{}; // not started yet
            }
            return Error{log.error().kind, "run " + run.id + ": " + log.error().message};
        }
        m_log = std::move(*log);
        if (options.tail) {
            ::lseek(m_log.get(), tail_offset(m_log.get(), *options.tail), SEEK_SET);
        }
        return Ok{};
    }

    std::string m_agent;
    Fd m_log;
    ConsoleStream m_out;
};

} // namespace

Status copy_logs(const RunStore& store, const RunDir& run, const std::vector<std::string>& agents,
                 const FollowOptions& options, Console& console) {
    std::vector<LogStream> streams;
    streams.reserve(agents.size());
    for (const std::string& agent : agents) {
        streams.emplace_back(agent, agents.size() > 1);
    }
    std::vector<char> buffer(k_copy_buffer_size);
    while (!console.broken()) {
        // The state before the logs, so the last round after the end sees every byte.
        bool running = false;
        if (options.follow) {
            Result<RunStatus> now = store.read_status(run.id);
            running = now && now->state == RunState::running;
        }
        for (LogStream& stream : streams) {
            if (Status drained = stream.drain(run, options, buffer, console); !drained) {
                return drained;
            }
        }
        if (!running) {
            break;
        }
        std::this_thread::sleep_for(options.poll);
    }
    for (LogStream& stream : streams) {
        stream.finish(console);
    }
    return Ok{};
}

} // namespace fleet
