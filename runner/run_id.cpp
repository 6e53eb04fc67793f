#include "runner/run_id.hpp"

#include <cerrno>
#include <ctime>
#include <sys/random.h>

namespace fleet {

namespace {

constexpr std::string_view k_alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr size_t k_suffix_length = 6;

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

} // namespace

Result<std::string> make_run_id(WallTime time) {
    const time_t seconds = std::chrono::system_clock::to_time_t(time);
    tm parts{};
    gmtime_r(&seconds, &parts);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S-", &parts);
    std::string id = stamp;
    // Rejection sampling keeps the six characters uniform over the 36-letter alphabet.
    while (id.size() < 16 + k_suffix_length) {
        unsigned char bytes[16];
        const ssize_t n = getrandom(bytes, sizeof bytes, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return system_error("getrandom", errno);
        }
        for (ssize_t i = 0; i < n && id.size() < 16 + k_suffix_length; ++i) {
            if (bytes[i] < 252) { // 252 = 7 * 36
                id += k_alphabet[bytes[i] % k_alphabet.size()];
            }
        }
    }
    return id;
}

bool is_valid_run_id(std::string_view text) {
    if (text.size() != 16 + k_suffix_length || text[8] != '-' || text[15] != '-') {
        return false;
    }
    for (size_t i = 0; i < text.size(); ++i) {
        if (i == 8 || i == 15) {
            continue;
        }
        const char c = text[i];
        const bool ok = i < 15 ? is_digit(c) : (is_digit(c) || (c >= 'a' && c <= 'z'));
        if (!ok) {
            return false;
        }
    }
    return true;
}

} // namespace fleet
