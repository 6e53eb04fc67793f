// Wall-clock timestamps as every file of a run writes them.
#pragma once

#include <chrono>
#include <string>

namespace fleet {

using WallTime = std::chrono::system_clock::time_point;

// RFC 3339 in UTC with milliseconds: "2026-01-09T19:08:05.123Z".
std::string format_timestamp(WallTime time);

// The inverse of format_timestamp; false when `text` is not exactly what it writes (a day or
// an hour out of range included); `time` is then unchanged.
bool parse_timestamp(const std::string& text, WallTime& time);

} // namespace fleet
