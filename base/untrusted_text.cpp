#include "base/untrusted_text.hpp"

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

// Whether the bytes from `i` on could still become a well-formed sequence with more input.
bool unfinished_sequence(std::string_view text, size_t i) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t needed = lead >= 0xc2 && lead <= 0xdf   ? 2
                          : lead >= 0xe0 && lead <= 0xef ? 3
                          : lead >= 0xf0 && lead <= 0xf4 ? 4
                                                         : 0;
    if (needed == 0 || text.size() - i >= needed) {
        return false;
    }
    for (size_t k = i + 1; k < text.size(); ++k) {
        if ((static_cast<unsigned char>(text[k]) & 0xc0) != 0x80) {
            return false;
        }
    }
    return true;
}

void escape_into(std::string& out, std::string_view bytes, bool keep_byte(unsigned char)) {
    for (size_t i = 0; i < bytes.size();) {
        const auto byte = static_cast<unsigned char>(bytes[i]);
        if (byte < 0x80) {
            if ((byte >= 0x20 && byte != 0x7f) || keep_byte(byte)) {
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
}

bool keep_newline_and_tab(unsigned char byte) {
    return byte == '\n' || byte == '\t';
}

bool keep_nothing(unsigned char /*byte*/) {
    return false;
}

bool keep_line_control(unsigned char byte) {
    return byte == '\n' || byte == '\t' || byte == '\r';
}

} // namespace

std::string escape_untrusted(std::string_view bytes, LineBreaks breaks) {
    std::string out;
    out.reserve(bytes.size());
    escape_into(out, bytes, breaks == LineBreaks::kept ? keep_newline_and_tab : keep_nothing);
    return out;
}

std::string TerminalEscaper::feed(std::string_view chunk) {
    std::string text = std::move(m_held);
    m_held.clear();
    text.append(chunk);
    // Hold back a trailing lead byte and the continuation bytes after it, when they could
    // still become one sequence.
    const size_t from = text.size() > 3 ? text.size() - 3 : 0;
    for (size_t i = from; i < text.size(); ++i) {
        if (unfinished_sequence(text, i)) {
            m_held = text.substr(i);
            text.resize(i);
            break;
        }
    }
    std::string out;
    out.reserve(text.size());
    escape_into(out, text, m_cr == CarriageReturn::kept ? keep_line_control : keep_newline_and_tab);
    return out;
}

std::string TerminalEscaper::finish() {
    std::string out;
    escape_into(out, m_held,
                m_cr == CarriageReturn::kept ? keep_line_control : keep_newline_and_tab);
    m_held.clear();
    return out;
}

} // namespace fleet
