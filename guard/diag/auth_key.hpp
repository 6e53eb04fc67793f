// Which key a fleet-diag caller used, for its audit line. sshd with ExposeAuthInfo writes the
// methods that authenticated the session to a file and names it in SSH_USER_AUTH; for a key,
// a line "publickey <type> <base64 blob>". The fingerprint is ssh-keygen's: "SHA256:" and the
// unpadded base64 of the blob's SHA-256 digest.
#pragma once

#include <string>
#include <string_view>

namespace fleet {

// The fingerprint of the first "publickey" line of an SSH_USER_AUTH file's text; empty when
// there is none or its blob is not base64.
std::string key_fingerprint_of(std::string_view auth_info);

// The fingerprint of the key this session was authenticated with: SSH_USER_AUTH read as a
// file an agent could have replaced (io.hpp open_regular_at, at most 64 KiB). Empty when sshd
// exposes no such file.
std::string session_key_fingerprint();

} // namespace fleet
