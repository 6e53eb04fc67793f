// SHA-256 (FIPS 180-4), for the prompt digest in run.json: enough to match a run to a prompt
// without storing the prompt twice. Not used for anything secret.
#pragma once

#include <string>
#include <string_view>

namespace fleet {

// Lowercase hex digest of `data`.
std::string sha256_hex(std::string_view data);

} // namespace fleet
