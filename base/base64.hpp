// Base64 (RFC 4648 §4, the standard alphabet), for SSH keys: decoding the key blob sshd names in
// SSH_USER_AUTH, encoding its SHA-256 digest as ssh-keygen prints a fingerprint (unpadded).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fleet {

// `bytes` encoded, without '=' padding (ssh-keygen's "SHA256:..." form).
std::string base64_unpadded(std::string_view bytes);

// `text` decoded; decoding stops at the first '='. nullopt when a character is outside the
// alphabet (whitespace included) or the length cannot come from whole bytes.
std::optional<std::string> base64_decode(std::string_view text);

} // namespace fleet
