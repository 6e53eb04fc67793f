#include "base/system_log.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sys/socket.h>
#include <sys/un.h>

#include "base/untrusted_text.hpp"
#include "sys/fd.hpp"

namespace fleet {

namespace {

int priority_of(Severity severity) {
    return k_facility_daemon * 8 + static_cast<int>(severity);
}

// `text` cut to at most `max_bytes`, never inside a UTF-8 sequence.
std::string cut_at_character(std::string text, size_t max_bytes) {
    if (text.size() <= max_bytes) {
        return text;
    }
    size_t end = max_bytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) {
        --end;
    }
    text.resize(end);
    return text;
}

// One datagram to the unix socket at `path`: 0 or the errno.
int send_datagram(const std::string& path, std::string_view data) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) {
        return ENAMETOOLONG;
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    const Fd socket(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!socket.valid()) {
        return errno;
    }
    ssize_t sent = 0;
    do {
        sent = ::sendto(socket.get(), data.data(), data.size(), MSG_NOSIGNAL,
                        reinterpret_cast<const sockaddr*>(&address), sizeof address);
    } while (sent < 0 && errno == EINTR);
    return sent < 0 ? errno : 0;
}

// Nobody listens at that path: try the next socket.
bool nobody_there(int error) {
    return error == ENOENT || error == ECONNREFUSED || error == ENOTSOCK || error == EACCES ||
           error == ENOTDIR;
}

} // namespace

std::string log_text(std::string_view text, size_t max_bytes) {
    // Escaping at most quadruples a byte: escape no more than can be kept, from where a
    // character begins (a well-formed one is at most 4 bytes long).
    size_t end = std::min(text.size(), max_bytes);
    for (int back = 0; back < 3 && end > 0 && end < text.size() &&
                       (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80;
         ++back) {
        --end;
    }
    std::string out = escape_untrusted(text.substr(0, end), LineBreaks::escaped);
    if (out.size() <= max_bytes) {
        return out;
    }
    out = cut_at_character(std::move(out), max_bytes);
    // Never half an escape ("\x0"): a reader would take it for other bytes.
    const size_t escape = out.rfind("\\x");
    if (escape != std::string::npos && out.size() - escape < 4) {
        out.resize(escape);
    }
    return out;
}

std::string logfmt_value(std::string_view text, size_t max_bytes) {
    std::string value = log_text(text, max_bytes);
    if (!value.empty() && value.find_first_of(" \"=") == std::string::npos) {
        return value;
    }
    std::string quoted = "\"";
    for (const char c : value) {
        if (c == '"' || c == '\\') {
            quoted += '\\';
        }
        quoted += c;
    }
    return quoted + "\"";
}

std::string journal_datagram(const LogEvent& event, std::string_view ident, pid_t pid) {
    std::string out = "PRIORITY=" + std::to_string(static_cast<int>(event.severity)) +
                      "\nSYSLOG_FACILITY=" + std::to_string(k_facility_daemon) +
                      "\nSYSLOG_IDENTIFIER=" + log_text(ident, 64) +
                      "\nSYSLOG_PID=" + std::to_string(pid) + "\n";
    const std::string message = log_text(event.message, k_max_log_message);
    const size_t message_line = std::strlen("MESSAGE=") + message.size() + 1;
    for (const LogField& field : event.fields) {
        if (field.value.empty()) {
            continue;
        }
        const std::string line = field.name + "=" + log_text(field.value, k_max_log_field) + "\n";
        if (out.size() + line.size() + message_line <= k_max_log_datagram) {
            out += line;
        }
    }
    return out + "MESSAGE=" + message + "\n";
}

std::string syslog_datagram(const LogEvent& event, std::string_view ident, pid_t pid,
                            WallTime now) {
    // The month's name from a table: strftime's %b follows the locale.
    static constexpr const char* k_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const time_t seconds = std::chrono::system_clock::to_time_t(now);
    tm parts{};
    if (::localtime_r(&seconds, &parts) == nullptr) {
        ::gmtime_r(&seconds, &parts);
    }
    char head[96];
    std::snprintf(head, sizeof head, "<%d>%s %2d %02d:%02d:%02d ", priority_of(event.severity),
                  k_months[parts.tm_mon % 12], parts.tm_mday, parts.tm_hour, parts.tm_min,
                  parts.tm_sec);
    std::string out = head + log_text(ident, 64) + "[" + std::to_string(pid) + "]: ";
    return out +
           log_text(event.message, std::min(k_max_log_message, k_max_log_datagram - out.size()));
}

LogOutcome send_log_event(const LogEvent& event, std::string_view ident, pid_t pid,
                          const LogSockets& sockets) {
    LogOutcome outcome;
    outcome.error = send_datagram(sockets.journal, journal_datagram(event, ident, pid));
    if (outcome.error == 0) {
        outcome.sink = LogSink::journal;
        return outcome;
    }
    if (!nobody_there(outcome.error)) {
        return outcome;
    }
    outcome.error = send_datagram(
        sockets.syslog, syslog_datagram(event, ident, pid, std::chrono::system_clock::now()));
    if (outcome.error == 0) {
        outcome.sink = LogSink::syslog;
    }
    return outcome;
}

} // namespace fleet
