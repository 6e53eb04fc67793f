#include "base/duration.hpp"

#include <array>
#include <cstdint>

namespace fleet {

namespace {

struct Unit {
    std::string_view name;
    int64_t milliseconds;
};

// Largest first: also the order they must appear in.
constexpr std::array<Unit, 5> k_units = {{
    {"d", 86'400'000},
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

constexpr int64_t k_max_duration_ms = 365LL * 86'400'000;

} // namespace

Result<Duration> parse_duration(std::string_view text) {
    const std::string shown(text);
    const auto invalid = [&](const std::string& why) {
        return input_error("duration '" + shown + "' " + why + " (use e.g. 90s, 30m, 2h, 1h30m)");
    };
    if (text.empty()) {
        return invalid("is empty");
    }
    int64_t total = 0;
    size_t next_unit = 0; // index into k_units that the next pair may use, at least
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t digits_start = pos;
        int64_t value = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            value = value * 10 + (text[pos] - '0');
            if (value > k_max_duration_ms) {
                return invalid("is too long");
            }
            ++pos;
        }
        if (pos == digits_start) {
            return invalid("needs a number before each unit");
        }
        const size_t unit_start = pos;
        while (pos < text.size() && text[pos] >= 'a' && text[pos] <= 'z') {
            ++pos;
        }
        const std::string_view unit = text.substr(unit_start, pos - unit_start);
        if (unit.empty()) {
            return invalid("needs a unit after each number");
        }
        size_t index = next_unit;
        while (index < k_units.size() && k_units[index].name != unit) {
            ++index;
        }
        if (index == k_units.size()) {
            return invalid("has an unknown or out-of-order unit '" + std::string(unit) + "'");
        }
        next_unit = index + 1;
        total += value * k_units[index].milliseconds;
        if (total > k_max_duration_ms) {
            return invalid("is longer than 365 days");
        }
    }
    if (total == 0) {
        return invalid("must be longer than zero");
    }
    return Duration(total);
}

std::string format_duration(Duration duration) {
    int64_t left = duration.count();
    if (left <= 0) {
        return "0s";
    }
    std::string text;
    for (const Unit& unit : k_units) {
        if (left >= unit.milliseconds) {
            text += std::to_string(left / unit.milliseconds) + std::string(unit.name);
            left %= unit.milliseconds;
        }
    }
    return text;
}

} // namespace fleet
