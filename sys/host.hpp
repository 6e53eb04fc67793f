// This host's name, as run.json records it, `dispatch doctor --json` reports it and fleet-admin
// names the TOTP account: gethostname(2), the kernel's UTS name, never resolved.
#pragma once

#include <string>

namespace fleet {

// The name, or "" when gethostname fails (it cannot for a buffer of HOST_NAME_MAX + 1).
std::string host_name();

} // namespace fleet
