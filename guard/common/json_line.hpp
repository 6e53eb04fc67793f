// The guard programs' answers and audit lines: one line of ASCII JSON each.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace fleet {

// One line of ASCII JSON: non-ASCII as \uXXXX, control characters as JSON escapes, invalid
// UTF-8 replaced, so no text inside can end the line or forge another.
std::string json_line(const nlohmann::json& value);

} // namespace fleet
