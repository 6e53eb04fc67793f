#include "dispatch/html_text.hpp"

#include <cstdio>

#include "base/untrusted_text.hpp"

namespace fleet {

namespace {

// The bidirectional overrides and isolates (U+202A..U+202E, U+2066..U+2069) made visible, as
// \u202e: one would reorder what follows it on the page.
std::string bidi_visible(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        const auto byte = [&](size_t at) { return static_cast<unsigned char>(text[at]); };
        if (i + 2 < text.size() && byte(i) == 0xE2 &&
            ((byte(i + 1) == 0x80 && byte(i + 2) >= 0xAA && byte(i + 2) <= 0xAE) ||
             (byte(i + 1) == 0x81 && byte(i + 2) >= 0xA6 && byte(i + 2) <= 0xA9))) {
            const unsigned point = 0x2000U + ((byte(i + 1) & 0x3FU) << 6U) + (byte(i + 2) & 0x3FU);
            char code[8];
            std::snprintf(code, sizeof code, "\\u%04x", point);
            out += code;
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

} // namespace

std::string html_text(const std::string& untrusted, size_t cap) {
    const std::string cut = untrusted.size() > cap ? untrusted.substr(0, cap) + "..." : untrusted;
    return html_escape(bidi_visible(escape_untrusted(cut, LineBreaks::escaped)));
}

std::string html_block(const std::string& untrusted) {
    return html_escape(bidi_visible(escape_untrusted(untrusted, LineBreaks::kept)));
}

std::string html_escape(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    for (const char c : raw) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

} // namespace fleet
