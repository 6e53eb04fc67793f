#include "base/base64.hpp"

#include <cstdint>

namespace fleet {

std::string base64_unpadded(std::string_view bytes) {
    static constexpr char k_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    uint32_t bits = 0;
    int count = 0;
    for (const char c : bytes) {
        bits = (bits << 8) | static_cast<unsigned char>(c);
        count += 8;
        while (count >= 6) {
            count -= 6;
            out += k_alphabet[(bits >> count) & 0x3f];
        }
    }
    if (count > 0) {
        out += k_alphabet[(bits << (6 - count)) & 0x3f];
    }
    return out;
}

namespace {

int sextet(char c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    return c == '/' ? 63 : -1;
}

} // namespace

std::optional<std::string> base64_decode(std::string_view text) {
    std::string out;
    uint32_t bits = 0;
    int count = 0;
    size_t used = 0;
    for (const char c : text) {
        if (c == '=') {
            break;
        }
        const int value = sextet(c);
        if (value < 0) {
            return std::nullopt;
        }
        ++used;
        bits = (bits << 6) | static_cast<uint32_t>(value);
        count += 6;
        if (count >= 8) {
            count -= 8;
            out += static_cast<char>((bits >> count) & 0xff);
        }
    }
    if (used % 4 == 1) {
        return std::nullopt; // six bits cannot end a byte
    }
    return out;
}

} // namespace fleet
