// One event to the host's log, best effort: journald's native socket when it is there (the
// event's own fields, so `journalctl FLEET_RUN_ID=…` filters), else the syslog socket /dev/log
// (the message alone). Facility daemon, one datagram per event, never more than
// k_max_log_datagram bytes, never a newline inside a value: whatever the caller passes (a
// label, a user's name) is escaped (untrusted_text.hpp, one line) and cut, so it can forge
// neither a second journal field nor a second syslog line.
//
// Why not glibc's syslog(3): openlog keeps the identity and the socket in process-global state,
// its socket blocks (a journald that stops reading would stop the runner, and every agent's
// output with it), it says nothing when a line is lost, and it cannot send journal fields.
//
// send_log_event, each call checked, nothing retried but EINTR:
//   1. socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK): a full receiver is EAGAIN
//      at once, never a wait; the fd never reaches a child
//   2. sendto(journal socket, MSG_NOSIGNAL), the native protocol: KEY=VALUE lines. ENOENT,
//      ENOTDIR, ECONNREFUSED (no socket there, or nobody bound to it), ENOTSOCK, EACCES: no
//      journald, go on to 3; anything else (0; EAGAIN: journald busy, the event lost) is the
//      answer
//   3. sendto(/dev/log, MSG_NOSIGNAL): "<PRI>Mmm dd hh:mm:ss IDENT[PID]: MESSAGE", the local
//      form of RFC 3164 that glibc writes: no hostname, since journald's and rsyslog's local
//      parsers (imuxsock's ParseHostname off) take the word after the time for the tag. ENOENT,
//      ECONNREFUSED: a host without syslog, the event goes nowhere
// Nothing here fails a caller: the outcome says where the event went and, if nowhere, why.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "base/clock.hpp"

namespace fleet {

// syslog's severities (RFC 5424 §6.2.1), the ones used.
enum class Severity { err = 3, warning = 4, notice = 5, info = 6 };

constexpr int k_facility_daemon = 3;
// Far within every receiver's limit (RFC 3164's relays 1,024 is the message; rsyslog's
// default 8 KiB; journald's datagrams are larger still).
constexpr size_t k_max_log_datagram = 2048;
constexpr size_t k_max_log_message = 1024;
constexpr size_t k_max_log_field = 256;
constexpr const char* k_journal_socket = "/run/systemd/journal/socket";
constexpr const char* k_syslog_socket = "/dev/log";

// A journal field beyond those every event has (PRIORITY, SYSLOG_FACILITY, SYSLOG_IDENTIFIER,
// SYSLOG_PID, MESSAGE). `name`: [A-Z][A-Z0-9_]*, the caller's constant; `value`: any bytes
// (escaped and cut to k_max_log_field; an empty one is left off).
struct LogField {
    std::string name;
    std::string value;
};

struct LogEvent {
    Severity severity = Severity::info;
    std::string message; // any bytes: escaped and cut to k_max_log_message
    // In order of importance: the ones that no longer fit in k_max_log_datagram (after room
    // for the message) are left off, the first kept.
    std::vector<LogField> fields;
};

// `text` as one line of printable UTF-8 (escape_untrusted, LineBreaks::escaped), cut to at
// most `max_bytes` at a character's boundary.
std::string log_text(std::string_view text, size_t max_bytes);

// A value for a "key=value" message: log_text, and in double quotes (with \" and \\ inside)
// when it is empty or holds a space, a quote or '=', so that a value cannot pose as a key.
std::string logfmt_value(std::string_view text, size_t max_bytes = k_max_log_field);

// The datagram for journald's native socket: "KEY=VALUE\n" lines, at most k_max_log_datagram.
std::string journal_datagram(const LogEvent& event, std::string_view ident, pid_t pid);

// The datagram for /dev/log, `now` in local time as RFC 3164 has it; at most
// k_max_log_datagram, no newline.
std::string syslog_datagram(const LogEvent& event, std::string_view ident, pid_t pid, WallTime now);

// Where the event was sent; the sockets' paths are a seam for tests.
struct LogSockets {
    std::string journal = k_journal_socket;
    std::string syslog = k_syslog_socket;
};
enum class LogSink { journal, syslog, nowhere };
struct LogOutcome {
    LogSink sink = LogSink::nowhere;
    int error = 0; // with nowhere: the errno of the last try
};

// `pid`: the one the host sees (a runner in its own PID namespace is 1 to itself).
LogOutcome send_log_event(const LogEvent& event, std::string_view ident, pid_t pid,
                          const LogSockets& sockets = {});

} // namespace fleet
