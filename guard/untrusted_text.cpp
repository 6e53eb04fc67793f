#include "untrusted_text.hpp"

namespace fleet {

namespace {

void append_escaped(std::string& out, unsigned char byte) {
    static constexpr char k_hex[] = "0123456789abcdef";
    out += "\\x";
    out += k_hex[byte >> 4];
    out += k_hex[byte & 0xf];
}

// Length of the well-formed UTF-8 sequence at `text[i]` (2..4), or 0 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF).
size_t utf8_sequence(std::string_view text, size_t i) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
    const auto continuation = [&](size_t k) {
        return i + k < text.size() && (byte(k) & 0xc0) == 0x80;
    };
    const unsigned char lead = byte(0);
    if (lead >= 0xc2 && lead <= 0xdf) {
        return continuation(1) ? 2 : 0;
    }
    if (lead >= 0xe0 && lead <= 0xef) {
        if (!continuation(1) || !continuation(2)) {
            return 0;
        }
        const bool overlong = lead == 0xe0 && byte(1) < 0xa0;
        const bool surrogate = lead == 0xed && byte(1) >= 0xa0;
        return overlong || surrogate ? 0 : 3;
    }
    if (lead >= 0xf0 && lead <= 0xf4) {
        if (!continuation(1) || !continuation(2) || !continuation(3)) {
            return 0;
        }
        const bool overlong = lead == 0xf0 && byte(1) < 0x90;
        const bool too_big = lead == 0xf4 && byte(1) >= 0x90;
        return overlong || too_big ? 0 : 4;
    }
    return 0;
}

} // namespace

std::string escape_untrusted(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (size_t i = 0; i < bytes.size();) {
        const auto byte = static_cast<unsigned char>(bytes[i]);
        if (byte < 0x80) {
            if ((byte >= 0x20 && byte != 0x7f) || byte == '\n' || byte == '\t') {
                out += static_cast<char>(byte);
            } else {
                append_escaped(out, byte);
            }
            ++i;
            continue;
        }
        const size_t length = utf8_sequence(bytes, i);
        // U+0080..U+009F (C1 controls, CSI among them) are encoded as C2 80..C2 9F.
        const bool c1_control =
            length == 2 && byte == 0xc2 && static_cast<unsigned char>(bytes[i + 1]) < 0xa0;
        if (length == 0 || c1_control) {
            const size_t count = length == 0 ? 1 : length;
            for (size_t k = 0; k < count; ++k) {
                append_escaped(out, static_cast<unsigned char>(bytes[i + k]));
            }
            i += count;
            continue;
        }
        out.append(bytes.substr(i, length));
        i += length;
    }
    return out;
}

std::string json_line(const nlohmann::json& value) {
    return value.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

} // namespace fleet
