// Text from hosts and agents, for an HTML page (fleet_html.hpp): escaped twice, first by
// escape_untrusted (controls and invalid UTF-8 become a visible \xNN), then the bidirectional
// overrides and isolates (U+202A..U+202E, U+2066..U+2069) become a visible \u202e (one would
// reorder the text after it), then & < > " ' become entities. Safe in element content and in
// a double- or single-quoted attribute.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fleet {

// One field: line breaks escaped too; cut at `cap` bytes, "..." after a cut.
std::string html_text(const std::string& untrusted, size_t cap);

// A block (a log's tail, a diffstat): line breaks kept.
std::string html_block(const std::string& untrusted);

// & < > " ' as entities; nothing else changed.
std::string html_escape(std::string_view text);

} // namespace fleet
