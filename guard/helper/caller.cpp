#include "guard/helper/caller.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <unistd.h>

#include "base/untrusted_text.hpp"

namespace fleet {

namespace {

bool parent_is_sudo() {
    char target[PATH_MAX] = {};
    const std::string link = "/proc/" + std::to_string(::getppid()) + "/exe";
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n <= 0) {
        return false;
    }
    const std::string path(target, static_cast<size_t>(n));
    return path.substr(path.rfind('/') + 1) == "sudo";
}

} // namespace

// sudo always sets SUDO_USER, SUDO_UID, SUDO_GID and SUDO_COMMAND, and a caller cannot unset
// them without SETENV; sudo as the parent process catches the rest. Either means "via sudo".
Caller identify_caller() {
    Caller caller;
    caller.uid = ::getuid();
    for (const char* name : {"SUDO_USER", "SUDO_UID", "SUDO_GID", "SUDO_COMMAND"}) {
        caller.via_sudo = caller.via_sudo || std::getenv(name) != nullptr;
    }
    caller.via_sudo = caller.via_sudo || parent_is_sudo();
    if (const char* user = std::getenv("SUDO_USER")) {
        caller.sudo_user = escape_untrusted(user);
    }
    if (const char* uid = std::getenv("SUDO_UID")) {
        char* end = nullptr;
        errno = 0;
        const unsigned long long value = std::strtoull(uid, &end, 10);
        if (errno == 0 && end != uid && *end == '\0') {
            caller.sudo_uid = value;
        }
    }
    return caller;
}

void add_caller_fields(const Caller& caller, nlohmann::json& line) {
    line["road"] = caller.peer ? "socket" : caller.via_sudo ? "sudo" : "direct";
    line["sudo_user"] = caller.sudo_user ? nlohmann::json(*caller.sudo_user) : nlohmann::json();
    line["sudo_uid"] = caller.sudo_uid ? nlohmann::json(*caller.sudo_uid) : nlohmann::json();
    if (caller.peer) {
        line["peer_uid"] = caller.peer->uid;
        line["peer_pid"] = caller.peer->pid;
        line["peer_user"] = escape_untrusted(caller.peer->user);
    }
}

} // namespace fleet
