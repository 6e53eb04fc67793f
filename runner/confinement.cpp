#include "runner/confinement.hpp"

namespace fleet {

namespace {

constexpr int k_abi_truncate = 3;
constexpr int k_abi_net = 4;
constexpr int k_abi_scopes = 6;

// A device is opened to read and write, and `> /dev/null` opens it with O_TRUNC.
constexpr uint64_t k_devices =
    landlock::k_read_file | landlock::k_write_file | landlock::k_truncate | landlock::k_ioctl_dev;

void add_lack(std::string& lacking, const std::string& what) {
    lacking += (lacking.empty() ? "" : "; ") + what;
}

} // namespace

const char* to_string(ConfineMode mode) {
    switch (mode) {
    case ConfineMode::off:
        return "off";
    case ConfineMode::required:
        return "required";
    case ConfineMode::best_effort:
        break;
    }
    return "auto";
}

const char* to_string(ConfinementLevel level) {
    switch (level) {
    case ConfinementLevel::none:
        return "none";
    case ConfinementLevel::partial:
        return "partial";
    case ConfinementLevel::full:
        return "full";
    case ConfinementLevel::off:
        break;
    }
    return "off";
}

ConfinementLevel confinement_level(const std::string& word) {
    for (const ConfinementLevel level :
         {ConfinementLevel::none, ConfinementLevel::partial, ConfinementLevel::full}) {
        if (word == to_string(level)) {
            return level;
        }
    }
    return ConfinementLevel::off;
}

Confinement assess_confinement(const AgentAccess& access, int abi) {
    Confinement record;
    record.landlock_abi = abi;
    if (access.mode == ConfineMode::off) {
        return record;
    }
    if (abi == 0) {
        record.level = ConfinementLevel::none;
        record.lacking = "the kernel has no Landlock";
        return record;
    }
    if (abi < k_abi_truncate) {
        add_lack(record.lacking, "truncate by name (Landlock ABI 3)");
    }
    if (!access.tcp_connect.empty() && abi < k_abi_net) {
        add_lack(record.lacking, "TCP port rules (Landlock ABI 4)");
    }
    if (abi < k_abi_scopes) {
        add_lack(record.lacking, "signal and abstract socket scoping (Landlock ABI 6)");
    }
    record.level = record.lacking.empty() ? ConfinementLevel::full : ConfinementLevel::partial;
    return record;
}

Result<PreparedConfinement> prepare_confinement(const AgentAccess& access, int abi) {
    PreparedConfinement prepared;
    prepared.record = assess_confinement(access, abi);
    if (prepared.record.level == ConfinementLevel::off ||
        prepared.record.level == ConfinementLevel::none) {
        return prepared;
    }
    const bool restrict_tcp = !access.tcp_connect.empty();
    Result<LandlockRuleset> ruleset = LandlockRuleset::create(abi, restrict_tcp);
    if (!ruleset) {
        return ruleset.error();
    }
    const auto grant = [&](const std::vector<std::string>& paths, uint64_t rights,
                           PathMissing missing) -> Status {
        for (const std::string& path : paths) {
            if (Result<bool> added = ruleset->allow_beneath(path, rights, missing); !added) {
                return added.error();
            }
        }
        return Ok{};
    };
    using namespace landlock;
    for (const Status& granted : {grant(access.system, k_read, PathMissing::skip),
                                  grant(access.read, k_read, PathMissing::fail),
                                  grant(access.devices, k_devices, PathMissing::skip),
                                  grant(access.write, k_write, PathMissing::fail)}) {
        if (!granted) {
            return granted.error();
        }
    }
    if (restrict_tcp && abi >= k_abi_net) {
        for (const uint16_t port : access.tcp_connect) {
            if (Status allowed = ruleset->allow_tcp_connect(port); !allowed) {
                return allowed.error();
            }
        }
    }
    prepared.ruleset = std::move(*ruleset);
    return prepared;
}

} // namespace fleet
