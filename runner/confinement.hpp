// An agent's confinement: the Landlock domain it is started in (sys/landlock.hpp), from the
// access dispatch decided for it (dispatch/agent_access.hpp), and what status.json says of it.
//
// Best effort by the kernel's ABI, recorded, never silent (the Landlock documentation's
// warning: best effort "succeeds" with nothing enforced):
//   full     every rule of the set is enforced: the filesystem rights (truncate needs ABI 3),
//            the signal and abstract-socket scopes (ABI 6), and the TCP ports when the agent
//            has any (ABI 4)
//   partial  a domain, without what the kernel lacks (named in `lacking`)
//   none     the kernel has no Landlock: the agent runs unconfined
//   off      confine = "off" in the config
// In the parent, before fork: prepare_confinement builds the ruleset (every path opened and
// added, each checked: a failure is the agent's spawn failure, reported). In the child, the
// spawner's hook (sys/landlock.hpp enter_landlock) sets no_new_privs and enters it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sys/landlock.hpp"
#include "sys/result.hpp"

namespace fleet {

enum class ConfineMode { off, best_effort, required };

// "off", "auto", "required": the config's words.
const char* to_string(ConfineMode mode);

struct AgentAccess {
    ConfineMode mode = ConfineMode::best_effort;
    std::vector<std::string> read;     // read and execute beneath; each must exist
    std::vector<std::string> system;   // read and execute beneath, where present
    std::vector<std::string> write;    // every right beneath; each must exist
    std::vector<std::string> devices;  // opened for reading and writing, where present
    std::vector<uint16_t> tcp_connect; // non-empty: TCP connect only to these ports
};

enum class ConfinementLevel { off, none, partial, full };

// "off", "none", "partial", "full": status.json's words.
const char* to_string(ConfinementLevel level);
// The level status.json names; `off` for a word it does not know.
ConfinementLevel confinement_level(const std::string& word);

struct Confinement {
    ConfinementLevel level = ConfinementLevel::off;
    int landlock_abi = 0;
    std::string lacking; // what the kernel lacks for the full set, when partial or none
};

// The level `access` reaches on a kernel of Landlock `abi` (0: none).
Confinement assess_confinement(const AgentAccess& access, int abi);

struct PreparedConfinement {
    Confinement record;
    std::optional<LandlockRuleset> ruleset; // none when off or without Landlock
};

// Builds the ruleset for `access` at `abi`. A required path that is missing or a rule the
// kernel refuses is an Error naming it.
Result<PreparedConfinement> prepare_confinement(const AgentAccess& access, int abi);

} // namespace fleet
