// Durations as operators write them: "90s", "30m", "2h", "1h30m", "500ms", "1d".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "sys/result.hpp"

namespace fleet {

using Duration = std::chrono::milliseconds;

// One or more <whole number><unit> pairs, units ms, s, m, h, d, largest first, each at most
// once; the total must be > 0 and at most 365 days. Anything else is invalid_input.
Result<Duration> parse_duration(std::string_view text);

// "1h30m", "45s", "250ms": the shortest spelling parse_duration reads back.
std::string format_duration(Duration duration);

} // namespace fleet
