#include "base/clock.hpp"

#include <cstdio>
#include <ctime>

namespace fleet {

std::string format_timestamp(WallTime time) {
    const auto since_epoch =
        std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch());
    const time_t seconds = static_cast<time_t>(since_epoch.count() / 1000);
    const int millis = static_cast<int>(since_epoch.count() % 1000);
    tm parts{};
    gmtime_r(&seconds, &parts);
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900,
                  parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                  millis);
    return text;
}

bool parse_timestamp(const std::string& text, WallTime& time) {
    tm parts{};
    int millis = 0;
    int consumed = 0;
    // %n proves the whole text was consumed, so a partial parse cannot pass.
    const int fields = std::sscanf( // NOLINT(cert-err34-c)
        text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &parts.tm_year, &parts.tm_mon,
        &parts.tm_mday, &parts.tm_hour, &parts.tm_min, &parts.tm_sec, &millis, &consumed);
    if (fields != 7 || static_cast<size_t>(consumed) != text.size()) {
        return false;
    }
    parts.tm_year -= 1900;
    parts.tm_mon -= 1;
    const time_t seconds = timegm(&parts);
    const WallTime parsed(std::chrono::seconds(seconds) + std::chrono::milliseconds(millis));
    // timegm would take "2026-13-45T25:00:00.000Z" as some day in 2027: only the one spelling
    // format_timestamp writes is a timestamp.
    if (format_timestamp(parsed) != text) {
        return false;
    }
    time = parsed;
    return true;
}

} // namespace fleet
