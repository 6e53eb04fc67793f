#include "guard/helper/totp.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <liboath/oath.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/atomic_file.hpp"
#include "base/trusted_file.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

constexpr size_t k_secret_bytes = 20;     // 160 bits, RFC 4226 R6's recommendation
constexpr size_t k_min_secret_bytes = 16; // 128 bits, its minimum
constexpr size_t k_max_small_file = size_t{64} * 1024;

std::string directory_of(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_name(const std::string& path) {
    return path.substr(path.rfind('/') + 1);
}

// Constant-time comparison for liboath: 0 only on a match.
int compare_code(void* handle, const char* test_otp) {
    const char* code = static_cast<const char*>(handle);
    if (std::strlen(test_otp) != k_totp_digits) {
        return 1;
    }
    unsigned difference = 0;
    for (size_t i = 0; i < k_totp_digits; ++i) {
        difference |= static_cast<unsigned char>(code[i] ^ test_otp[i]);
    }
    return difference == 0 ? 0 : 1;
}

void record_failure(TotpState& state, time_t now) {
    state.failures.push_back(now);
    if (state.failures.size() >= k_totp_max_failures) {
        state.locked_until = now + k_totp_lockout;
        state.failures.clear();
    }
}

// Opens (creating 0700 if missing) a root-only directory for TOTP files.
Result<Fd> open_private_dir(const std::string& dir, bool create) {
    if (create && ::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return system_error("TOTP directory " + dir, errno);
    }
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
        return system_error("TOTP directory " + dir, errno);
    }
    if (Status trusted =
            check_trusted_directory(fd.get(), "TOTP directory " + dir, Ancestors::not_writable);
        !trusted) {
        return trusted.error();
    }
    return fd;
}

Result<TotpState> parse_state(const std::string& text, const std::string& path) {
    const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
    TotpState state;
    try {
        if (!json.is_object()) {
            throw nlohmann::json::other_error::create(501, "not an object", nullptr);
        }
        state.last_counter = json.at("last_counter").get<uint64_t>();
        state.failures = json.at("failures").get<std::vector<time_t>>();
        state.locked_until = json.at("locked_until").get<time_t>();
    } catch (const nlohmann::json::exception&) {
        return input_error("TOTP state " + path + " is corrupt; remove it to reset");
    }
    return state;
}

std::string state_text(const TotpState& state) {
    return nlohmann::json{{"last_counter", state.last_counter},
                          {"failures", state.failures},
                          {"locked_until", state.locked_until}}
               .dump() +
           "\n";
}

std::string percent_encode(std::string_view text) {
    static constexpr char k_hex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (std::isalnum(byte) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += k_hex[byte >> 4];
            out += k_hex[byte & 0xf];
        }
    }
    return out;
}

} // namespace

Status init_oath() {
    const int rc = oath_init();
    if (rc != OATH_OK) {
        return Error{ErrorKind::system, std::string("liboath: ") + oath_strerror(rc)};
    }
    return Ok{};
}

bool is_well_formed_code(std::string_view code) {
    return code.size() == k_totp_digits &&
           std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<std::string> totp_code(std::string_view secret, time_t now, unsigned digits) {
    char code[16] = {};
    const int rc =
        oath_totp_generate(secret.data(), secret.size(), now, k_totp_step_seconds, 0, digits, code);
    if (rc != OATH_OK) {
        return Error{ErrorKind::system, std::string("liboath: ") + oath_strerror(rc)};
    }
    return std::string(code);
}

TotpCheck check_totp(std::string_view secret, std::string_view code, time_t now, TotpState& state) {
    TotpCheck check;
    std::erase_if(state.failures, [&](time_t at) { return at + k_totp_failure_window <= now; });
    if (state.locked_until > now) {
        check.verdict = TotpVerdict::locked;
        check.reason = "too many wrong TOTP codes: TOTP actions are locked for another " +
                       std::to_string(state.locked_until - now) + " s";
        return check;
    }
    if (!is_well_formed_code(code)) {
        record_failure(state, now);
        check.verdict = TotpVerdict::malformed;
        check.reason = "a TOTP code is exactly six digits";
        return check;
    }
    const std::string terminated(code);
    int position = 0;
    uint64_t counter = 0;
    const int rc = oath_totp_validate3_callback(
        secret.data(), secret.size(), now, k_totp_step_seconds, 0, k_totp_digits, k_totp_window,
        &position, &counter, compare_code, const_cast<char*>(terminated.c_str()));
    if (rc < 0) {
        record_failure(state, now);
        check.verdict = TotpVerdict::wrong;
        check.reason = rc == OATH_INVALID_OTP
                           ? "wrong TOTP code"
                           : std::string("TOTP check failed: ") + oath_strerror(rc);
        return check;
    }
    if (counter <= state.last_counter) {
        record_failure(state, now);
        check.verdict = TotpVerdict::replayed;
        check.reason = "TOTP code already used: wait for the next one";
        return check;
    }
    state.last_counter = counter;
    check.verdict = TotpVerdict::accepted;
    check.counter = counter;
    return check;
}

Result<std::string> base32_encode(std::string_view bytes) {
    char* out = nullptr;
    size_t length = 0;
    const int rc = oath_base32_encode(bytes.data(), bytes.size(), &out, &length);
    if (rc != OATH_OK) {
        return Error{ErrorKind::system, std::string("base32: ") + oath_strerror(rc)};
    }
    std::string text(out, length);
    std::free(out);
    text.erase(std::find(text.begin(), text.end(), '='), text.end());
    return text;
}

Result<std::string> base32_decode(std::string_view text) {
    std::string padded(text);
    while (padded.size() % 8 != 0) {
        padded += '=';
    }
    char* out = nullptr;
    size_t length = 0;
    const int rc = oath_base32_decode(padded.data(), padded.size(), &out, &length);
    if (rc != OATH_OK) {
        return input_error(std::string("not base32: ") + oath_strerror(rc));
    }
    std::string bytes(out, length);
    explicit_bzero(out, length);
    std::free(out);
    return bytes;
}

Result<std::string> read_totp_secret(const std::string& path) {
    const std::string subject = "TOTP secret " + path;
    // Root's, root only (0600 or less), in directories only root can change.
    TrustRules rules;
    rules.forbidden = 077;
    rules.missing = IfMissing::absent;
    rules.max_bytes = 1024;
    Result<std::optional<std::string>> text = read_trusted_file(path, subject, rules);
    if (!text) {
        return text.error();
    }
    if (!*text) {
        return input_error("TOTP is not enrolled (run fleet-admin totp enroll as root)");
    }
    std::string& line = **text;
    line.erase(std::remove_if(line.begin(), line.end(),
                              [](char c) { return c == '\n' || c == ' ' || c == '\t'; }),
               line.end());
    Result<std::string> secret = base32_decode(line);
    explicit_bzero(line.data(), line.size());
    if (!secret || secret->size() < k_min_secret_bytes) {
        return input_error(subject + " does not hold a base32 secret of at least 128 bits");
    }
    return secret;
}

Result<TotpCheck> verify_totp(const std::string& secret_path, const std::string& state_path,
                              std::string_view code, time_t now) {
    Result<std::string> secret = read_totp_secret(secret_path);
    if (!secret) {
        return secret.error();
    }
    Result<Fd> dir = open_private_dir(directory_of(state_path), true);
    if (!dir) {
        return dir.error();
    }
    while (::flock(dir->get(), LOCK_EX) != 0) {
        if (errno != EINTR) {
            return system_error("lock " + directory_of(state_path), errno);
        }
    }
    const std::string name = base_name(state_path);
    TotpState state;
    Result<std::string> text = read_file_at(dir->get(), name, k_max_small_file);
    if (text) {
        Result<TotpState> parsed = parse_state(*text, state_path);
        if (!parsed) {
            return parsed.error();
        }
        state = *parsed;
    } else if (::faccessat(dir->get(), name.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
               errno != ENOENT) {
        return input_error("TOTP state " + state_path + ": " + text.error().message);
    }
    TotpCheck check = check_totp(*secret, code, now, state);
    explicit_bzero(secret->data(), secret->size());
    if (Status saved = write_file_atomically(dir->get(), name, state_text(state), 0600); !saved) {
        return Error{ErrorKind::system, "TOTP state " + state_path + ": " + saved.error().message};
    }
    return check;
}

Result<std::string> enroll_totp(const std::string& secret_path, bool force) {
    Result<Fd> dir = open_private_dir(directory_of(secret_path), true);
    if (!dir) {
        return dir.error();
    }
    const std::string name = base_name(secret_path);
    if (!force && ::faccessat(dir->get(), name.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
        return input_error("TOTP secret " + secret_path +
                           " exists; enroll --force replaces it (every enrolled device then "
                           "needs the new one)");
    }
    std::string secret(k_secret_bytes, '\0');
    if (::getrandom(secret.data(), secret.size(), 0) != static_cast<ssize_t>(secret.size())) {
        return system_error("getrandom", errno);
    }
    Result<std::string> encoded = base32_encode(secret);
    explicit_bzero(secret.data(), secret.size());
    if (!encoded) {
        return encoded.error();
    }
    if (Status written = write_file_atomically(dir->get(), name, *encoded + "\n", 0600); !written) {
        return Error{ErrorKind::system,
                     "TOTP secret " + secret_path + ": " + written.error().message};
    }
    return encoded;
}

std::string otpauth_uri(std::string_view base32_secret, std::string_view account) {
    const std::string issuer = "fleet-dispatch";
    return "otpauth://totp/" + issuer + ":" + percent_encode(account) +
           "?secret=" + std::string(base32_secret) + "&issuer=" + issuer +
           "&algorithm=SHA1&digits=6&period=30";
}

} // namespace fleet
