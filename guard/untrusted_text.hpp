// Text from commands and callers is data, never terminal input: before it reaches an answer or
// the audit log, every byte that is not printable UTF-8, a newline or a tab becomes the visible
// text \xNN (control characters and ESC, DEL, the C1 controls U+0080..U+009F, invalid UTF-8).
// A JSON consumer that decodes and prints the result cannot be driven by escape sequences
// (restricted-channels.md §7; sudo CVE-2023-28486/28487).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fleet {

std::string escape_untrusted(std::string_view bytes);

// One line of ASCII JSON: non-ASCII as \uXXXX, control characters as JSON escapes.
std::string json_line(const nlohmann::json& value);

} // namespace fleet
