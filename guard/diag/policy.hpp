// fleet-diag's policy: /etc/fleet-dispatch/diag.toml, owned by root and not writable by group
// or others, nor any directory above it (trusted_file.hpp); --policy only when not started by
// sshd. Every key has a default, so a missing policy file means the defaults below; a policy
// that exists but is not trusted, or does not parse, refuses everything.
//
//   roots      = [...]   what file commands may read: directories (and what lies beneath) or
//                        single files. Default /var/log, /etc, /proc/{loadavg,meminfo,uptime,
//                        version,cpuinfo}
//   deny       = [...]   glob patterns added to the built-in denylist, which always applies
//   persist    = [...]   prefixes under which persisted copies of denied paths live; each
//                        denied pattern is denied under each prefix too. Default ["/persist"]
//   commands   = [...]   narrows the allowed commands (first words); default all
//   units      = [...]   when set, the only units systemctl and journalctl may name (and
//                        journalctl must name one)
//   containers = [...]   when set, the only containers logs may name
//   max_output = 1048576 bytes of output per request, then "[output truncated]"
//   timeout    = "20s"   per external tool; TERM, then KILL 2 s later
//   audit_log  = "/var/log/fleet-diag/audit.log"   in a directory of its own (setup-diag)
//   [tools]    systemctl journalctl df free uptime ps ss docker podman = absolute paths
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/duration.hpp"
#include "sys/result.hpp"

namespace fleet {

inline constexpr const char* k_default_diag_policy_path = "/etc/fleet-dispatch/diag.toml";

// Built in, whatever the policy says (docs/design/restricted-channels.md §6; issue 7).
inline constexpr const char* k_builtin_diag_deny[] = {
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssh/*_key",
    "/root",
    "/home/*/.ssh",
    "/run/secrets",
    "/var/lib/sops-nix",
    "/etc/fleet-dispatch/secrets",
    "/var/lib/fleet-dispatch",
    "/var/lib/matrix-synapse",
    "/var/lib/mautrix-*",
    "/var/lib/matrix-authentication-service",
    "/var/lib/n8n",
    "/var/lib/zammad",
};

struct DiagPolicy {
    std::string source = "built-in defaults";
    std::vector<std::string> roots{"/var/log",      "/etc",         "/proc/loadavg",
                                   "/proc/meminfo", "/proc/uptime", "/proc/version",
                                   "/proc/cpuinfo"};
    std::vector<std::string> deny; // built-ins plus the policy's, persist variants included
    std::vector<std::string> persist{"/persist"};
    std::set<std::string> commands; // empty: all
    std::set<std::string> units;    // empty: any valid unit name
    std::set<std::string> containers;
    size_t max_output = size_t{1} << 20;
    Duration timeout = std::chrono::seconds(20);
    std::string audit_log = "/var/log/fleet-diag/audit.log";
    std::map<std::string, std::string> tools{
        {"systemctl", "/usr/bin/systemctl"},
        {"journalctl", "/usr/bin/journalctl"},
        {"df", "/usr/bin/df"},
        {"free", "/usr/bin/free"},
        {"uptime", "/usr/bin/uptime"},
        {"ps", "/usr/bin/ps"},
        {"ss", "/usr/bin/ss"},
        {"docker", "/usr/bin/docker"},
        {"podman", "/usr/bin/podman"},
    };
};

Result<DiagPolicy> parse_diag_policy(std::string_view text, const std::string& source);

// `path` absent and `required` false: the defaults. Otherwise StrictModes (no sticky exception)
// and parse.
Result<DiagPolicy> load_diag_policy(const std::string& path, bool required);

} // namespace fleet
