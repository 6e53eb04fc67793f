// fleet-helper's second road to root: a root-owned unix socket, for callers that cannot use
// sudo (a confined agent has no_new_privs, so no setuid program raises it). One root process
// per connection, started by systemd's socket activation with Accept=yes
// (deploy/systemd/fleet-helper.socket; `systemd-socket-activate --accept` where systemd is not
// PID 1) as `fleet-helper --serve-socket`, the connection on fd 3 (LISTEN_FDS=1, LISTEN_PID).
// It decides exactly as the sudo road does (fleet_helper.cpp: same grammar, policy, TOTP, audit
// before the action, JSON answer); only who is asking comes from elsewhere.
//
// Server, as root (serve side, fleet_helper.cpp calls these in order):
//   1. socket_peer(3): fstat is a socket, SO_DOMAIN AF_UNIX, SO_TYPE SOCK_STREAM, then
//      SO_PEERCRED: the caller's uid and pid as the kernel saw them at connect(2); nothing the
//      client sends can change them
//   2. the uid's passwd entry (getpwuid_r) must be in the policy's `socket_users`; root and
//      unknown uids are refused (audited, answered) before a byte of their request is read
//   3. read_socket_request(3): one line of JSON, {"argv": ["service", "restart", "nginx"]},
//      at most 64 KiB, within 10 s in all, strings only; anything else is a usage error
//   4. the request as through sudo (--policy refused), then write_socket_answer(3): the
//      answer line with "exit", the helper's exit code, added
// Client (an unprivileged `fleet-helper ...` when the socket exists): connect, send the argv
// line, shut down writing, read the answer (at most 1 MiB, 15 minutes: an action may take the
// policy's timeout), print it, exit with its "exit".
#pragma once

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "sys/result.hpp"

namespace fleet {

inline constexpr const char* k_helper_socket = "/run/fleet-dispatch/helper.sock";

struct SocketPeer {
    uid_t uid = 0;
    pid_t pid = 0;
    std::string user; // the uid's passwd name; empty when it has none
};

// Step 1 (and the name for step 2).
Result<SocketPeer> socket_peer(int fd);

// Step 3.
Result<std::vector<std::string>> read_socket_request(int fd);

// Step 4's write: `answer` with "exit": `exit_code`, one line.
Status write_socket_answer(int fd, nlohmann::json answer, int exit_code);

// Whether this process was started by socket activation with one connection on fd 3.
bool socket_activated();

// The client: the socket's path (FLEET_HELPER_SOCKET, else k_helper_socket) when a socket is
// there, else nullopt (the caller goes on without it).
std::optional<std::string> helper_socket_path();

// Sends `args` to the socket at `path`, prints the answer on stdout; the helper's exit code
// (2, with an answer saying why, when the socket gives none).
int call_helper_socket(const std::string& path, const std::vector<std::string>& args);

} // namespace fleet
