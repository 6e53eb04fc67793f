// Identity: who a launch runs as, resolved from a USER[:GROUP] spec before any privilege drop.
//
// Parsing is strict and fails closed (see docs/fleet-launch.md, "User specs"):
//   - USER and GROUP are each a name or a number; a number is a whole decimal string without
//     sign, spaces or leading zeros, in 1..2147483646, and must have a passwd/group entry.
//     So "-1", "4294967295" (both (uid_t)-1, "leave unchanged" to setresuid) and "0" are
//     refused before they reach a system call.
//   - Anything not all digits is a name and must exist ("0day" is a name).
//   - Empty parts (":", "user:", ":group"), a second ':', and names starting with '-' or '+'
//     are refused.
//   - uid 0 and gid 0 are never a target, whichever way they are spelled: a name that maps to
//     uid 0, gid 0 as the primary group (the user's own when no GROUP is named, or GROUP), and
//     group 0 left among the supplementary groups after `drop_groups` (so a member of group 0
//     is launched only with --drop-group naming it).
//
// Groups: with USER alone, the user's groups from getgrouplist() (the primary one included);
// with USER:GROUP, GROUP becomes the primary group and the only supplementary group, as gosu
// and su-exec do. Groups named in `drop_groups` are removed; dropping the primary group is an
// error, as is naming a group that does not exist (a typo must not silently keep a group).
//
// Lookups go through NSS (getpwnam_r, getpwuid_r, getgrnam_r, getgrgid_r, getgrouplist), so
// call this single-threaded and before fork: NSS is not async-signal-safe.
#pragma once

#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "sys/result.hpp"

namespace fleet {

struct Identity {
    uid_t uid = 0;
    gid_t gid = 0;
    std::string name;  // passwd name
    std::string home;  // passwd home directory
    std::string shell; // passwd shell
    // Exactly the list for setgroups(): sorted, without duplicates.
    std::vector<gid_t> groups;
};

// The two halves of a USER[:GROUP] spec, syntax-checked but not resolved.
struct UserSpec {
    std::string user;
    std::string group; // empty when the spec had no ":GROUP"
};

// Splits and syntax-checks a spec. Fails (invalid_input) on empty parts, extra colons,
// leading '-' or '+'.
Result<UserSpec> parse_user_spec(std::string_view spec);

// Parses a whole decimal id in 1..2147483646: no sign, no spaces, no leading zeros.
// Returns invalid_input for anything else, including a non-numeric string.
Result<unsigned> parse_id_number(std::string_view text);

// True when `text` is non-empty and all ASCII digits: such a part is an id, never a name.
bool is_all_digits(std::string_view text);

// Resolves a spec to an Identity for a root caller (see the rules above).
// Fails with invalid_input when something does not exist or is not allowed, with system
// when a lookup itself fails (an NSS error).
Result<Identity> resolve_identity(std::string_view spec,
                                  const std::vector<std::string>& drop_groups);

// The identity of the calling process, with its current supplementary groups.
// For the "not root" path: a caller may only run as itself.
Result<Identity> current_identity();

} // namespace fleet
