// fleet-helper's policy: /etc/fleet-dispatch/helper.toml, a root-owned file that no one else
// can write, nor any directory above it (trusted_file.hpp). It never comes from the
// environment or from the caller; --policy is honoured only when the helper was not started
// through sudo (fleet_helper.cpp).
//
//   systemctl = "/usr/bin/systemctl"      absolute, root-owned (checked before each run)
//   apt_get   = "/usr/bin/apt-get"
//   timeout   = "10m"                     per action; then TERM, and KILL after `grace`
//   grace     = "10s"
//   audit_log = "/var/log/fleet-dispatch/helper.log"
//   protected_services = [...]            added to the built-in set (never stop/disable)
//   protected_packages = [...]            added to the built-in set (never remove)
//   socket_users = ["ubuntu"]             who may ask through the socket (socket.hpp); default
//                                         nobody
//   [services]  nginx = ["status", "restart", "reload"]
//   [packages]  htop = ["install", "remove"]
//   [apt]       actions = ["update", "upgrade"]
//   [totp]      secret = "...", state = "...", service = ["stop", "disable"],
//               package = ["install", "remove", "upgrade"]
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/duration.hpp"
#include "guard/common/names.hpp"
#include "guard/helper/request.hpp"
#include "sys/result.hpp"

namespace fleet {

inline constexpr const char* k_default_policy_path = "/etc/fleet-dispatch/helper.toml";

struct HelperPolicy {
    std::string source;
    std::string systemctl = "/usr/bin/systemctl";
    std::string apt_get = "/usr/bin/apt-get";
    Duration timeout = std::chrono::minutes(10);
    Duration grace = std::chrono::seconds(10);
    std::string audit_log = "/var/log/fleet-dispatch/helper.log";
    std::map<std::string, std::set<std::string>> services; // name -> allowed actions
    std::map<std::string, std::set<std::string>> packages;
    std::set<std::string> apt_actions; // update, upgrade: no name
    std::string totp_secret = "/etc/fleet-dispatch/secrets/helper-totp";
    std::string totp_state = "/var/lib/fleet-dispatch/helper-totp.json";
    std::set<std::string> totp_service_actions{"stop", "disable"};
    std::set<std::string> totp_package_actions{"install", "remove", "upgrade"};
    std::set<std::string> protected_services;
    std::set<std::string> protected_packages;
    std::set<std::string> socket_users; // the socket road's callers (socket.hpp)
};

// Built in, whatever the policy says: stopping or disabling these, or removing these packages,
// would lock the operator out of the host (docs/design/restricted-channels.md §9).
inline constexpr std::string_view k_builtin_protected_services[] = {
    "ssh", "sshd", "amazon-ssm-agent", "snap.amazon-ssm-agent.amazon-ssm-agent"};
inline constexpr std::string_view k_builtin_protected_packages[] = {
    "sudo", "openssh-server", "amazon-ssm-agent", "fleet-dispatch", "systemd", "apt",
    "dpkg", "libc6"};

Result<HelperPolicy> parse_policy(std::string_view text, const std::string& source);

// Opens `path` (O_NOFOLLOW), checks it and every directory above it are root-owned and not
// writable by group or others (no sticky exception), and parses it.
Result<HelperPolicy> load_policy(const std::string& path);

// What the policy says of a request (the audit's Decision is the program's: verdict.hpp).
struct Ruling {
    bool allowed = false;
    bool needs_totp = false;
    std::string reason; // why refused; one line, names the problem
};

// Judges a service or package request: valid name, listed, action allowed, not protected.
Ruling decide(const HelperPolicy& policy, const Request& request);

// Whether a unit named by any of `names` (a unit's id and aliases, as systemctl reports them)
// is protected: its name with the type suffix (".service", ".socket", ...) and any "@instance"
// removed is in the protected set. "ssh.socket", "sshd.service" (Debian's alias of
// ssh.service) and "ssh@x.service" are all ssh. decide() checks the requested name so; the
// helper asks systemd for the unit's other names before it stops or disables anything.
bool is_protected_unit(const HelperPolicy& policy, const std::vector<std::string>& names);

// The effective policy, for `fleet-helper policy`.
nlohmann::json policy_json(const HelperPolicy& policy);

} // namespace fleet
