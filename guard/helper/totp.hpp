// The TOTP gate for dangerous actions (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits), verified
// here, on the root side, only: whoever can verify a code holds the secret and so can mint
// codes, so an agent-side check would be no check at all (docs/design/restricted-channels.md §10).
//
// Files (paths from the policy):
//   secret  base32 text, one line; a regular file owned by root, mode 0600 or stricter, opened
//           O_NOFOLLOW; written by `fleet-admin totp enroll` (AtomicFile, 0600)
//   state   JSON {"last_counter", "failures": [unix times], "locked_until"}; root 0600, replaced
//           atomically (AtomicFile) under flock(2) on its directory, so concurrent helpers
//           serialise; saved before the action runs, so a crash cannot re-open a used code
//
// check_totp, in order: locked out -> refuse; not exactly six ASCII digits -> failure; liboath
// oath_totp_validate3_callback (window 1, constant-time compare) no match -> failure; matched
// step <= last accepted step -> replay, a failure; else accepted and the step recorded. Five
// failures within five minutes lock every TOTP action for five minutes.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "sys/result.hpp"

namespace fleet {

inline constexpr unsigned k_totp_step_seconds = 30;
inline constexpr unsigned k_totp_digits = 6;
inline constexpr size_t k_totp_window = 1;
inline constexpr size_t k_totp_max_failures = 5;
inline constexpr time_t k_totp_failure_window = 300;
inline constexpr time_t k_totp_lockout = 300;

struct TotpState {
    uint64_t last_counter = 0;    // highest accepted time step
    std::vector<time_t> failures; // within the last k_totp_failure_window seconds
    time_t locked_until = 0;
};

enum class TotpVerdict { accepted, malformed, wrong, replayed, locked };

struct TotpCheck {
    TotpVerdict verdict = TotpVerdict::wrong;
    std::string reason;   // for refusals: one line
    uint64_t counter = 0; // the matched step when accepted
};

// Initialises liboath once per process (oath_init); an Error when it fails.
Status init_oath();

// Exactly six ASCII digits: no sign, space, padding or look-alike digits.
bool is_well_formed_code(std::string_view code);

// The code for `now` with `secret` (raw bytes); `digits` 6..8.
Result<std::string> totp_code(std::string_view secret, time_t now, unsigned digits);

// Judges `code` at `now` and updates `state` (failures, lock-out, last counter).
TotpCheck check_totp(std::string_view secret, std::string_view code, time_t now, TotpState& state);

// Base32 (RFC 4648, liboath's codec) of raw bytes without padding, and back.
Result<std::string> base32_encode(std::string_view bytes);
Result<std::string> base32_decode(std::string_view text);

// Reads the secret file (checks above) and decodes it.
Result<std::string> read_totp_secret(const std::string& path);

// Locks the state file's directory, loads the state, runs check_totp with the secret from
// `secret_path`, and saves the state before returning.
Result<TotpCheck> verify_totp(const std::string& secret_path, const std::string& state_path,
                              std::string_view code, time_t now);

// Makes a new 160-bit secret (getrandom), writes it to `secret_path` (directory created 0700
// if missing), and returns it base32. Refuses to replace an existing secret unless `force`.
Result<std::string> enroll_totp(const std::string& secret_path, bool force);

// otpauth://totp/<issuer>:<account>?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30
std::string otpauth_uri(std::string_view base32_secret, std::string_view account);

} // namespace fleet
