// SHA-256 (FIPS 180-4), for the prompt digest in run.json (enough to match a run to a prompt
// without storing the prompt twice) and SSH key fingerprints in fleet-diag's audit lines. Not
// used for anything secret.
#pragma once

#include <string>
#include <string_view>

namespace fleet {

// The 32-byte digest of `data`.
std::string sha256_digest(std::string_view data);

// Lowercase hex digest of `data`.
std::string sha256_hex(std::string_view data);

} // namespace fleet
