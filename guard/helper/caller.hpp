// Who is asking fleet-helper, and by which road: through sudo (SUDO_* from sudo, or sudo as the
// parent process), through the socket (the kernel's SO_PEERCRED, socket.hpp), or directly (root
// at a shell, or a test with --policy). A caller that came through sudo or the socket never
// chooses the policy (--policy is refused).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>

#include <nlohmann/json.hpp>

#include "guard/helper/socket.hpp"

namespace fleet {

struct Caller {
    uid_t uid = 0;
    bool via_sudo = false;
    std::optional<std::string> sudo_user; // escaped
    std::optional<uint64_t> sudo_uid;
    std::optional<SocketPeer> peer; // set on the socket road

    // Came through sudo or the socket: the policy is the fixed one.
    bool remote() const { return via_sudo || peer.has_value(); }
};

// The sudo road's caller, from this process's environment and parent.
Caller identify_caller();

// What the audit line says of the caller: road, sudo_user, sudo_uid, peer_uid, peer_user.
void add_caller_fields(const Caller& caller, nlohmann::json& line);

} // namespace fleet
