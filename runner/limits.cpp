#include "runner/limits.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace fleet {

namespace {

constexpr uint64_t k_kib = 1024;

// "K" 1, "M" 2, "G" 3, "T" 4 (with "", "B", "iB" after it), "" and "B" 0; -1 for anything else.
int unit_power(std::string_view unit) {
    if (unit.empty() || unit == "B") {
        return 0;
    }
    const std::string_view rest = unit.substr(1);
    if (!rest.empty() && rest != "B" && rest != "iB") {
        return -1;
    }
    switch (unit[0]) {
    case 'K':
    case 'k':
        return 1;
    case 'M':
        return 2;
    case 'G':
        return 3;
    case 'T':
        return 4;
    default:
        return -1;
    }
}

} // namespace

const char* to_string(LimitsMode mode) {
    switch (mode) {
    case LimitsMode::off:
        return "off";
    case LimitsMode::required:
        return "required";
    case LimitsMode::best_effort:
        break;
    }
    return "auto";
}

uint64_t default_run_memory_max(uint64_t mem_total) {
    return mem_total / 4 * 3;
}

Result<uint64_t> parse_memory_size(std::string_view text) {
    const auto bad = [&] {
        return input_error("'" + std::string(text) +
                           "' is no memory size (say 512M, 2G or 1.5GiB: binary units)");
    };
    size_t digits = 0;
    bool point = false;
    while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) != 0 ||
                                    (text[digits] == '.' && !point))) {
        point = point || text[digits] == '.';
        ++digits;
    }
    if (digits == 0 || digits > 20) {
        return bad();
    }
    const int power = unit_power(text.substr(digits));
    if (power < 0 || (point && power == 0)) {
        return bad();
    }
    const double number = std::strtod(std::string(text.substr(0, digits)).c_str(), nullptr);
    const double bytes = number * std::pow(static_cast<double>(k_kib), power);
    if (!std::isfinite(bytes) || bytes >= 1.8e19) {
        return bad();
    }
    return static_cast<uint64_t>(bytes);
}

std::string format_bytes(uint64_t bytes) {
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= static_cast<double>(k_kib) && unit < 4) {
        value /= static_cast<double>(k_kib);
        ++unit;
    }
    char text[32];
    if (unit == 0 || std::fabs(value - std::round(value)) < 0.05) {
        std::snprintf(text, sizeof text, "%.0f %s", value, units[unit]);
    } else {
        std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
    }
    return text;
}

std::string limit_reason(const AgentLimits& limits, const AgentResources& used) {
    if (used.oom_kills > 0) {
        return limits.limits.memory_max
                   ? "out of memory (limit " + format_bytes(*limits.limits.memory_max) + ")"
                   : "out of memory";
    }
    if (used.pids_limit_hits > 0) {
        return limits.limits.pids_max
                   ? "process limit (" + std::to_string(*limits.limits.pids_max) + ")"
                   : "process limit";
    }
    return "";
}

} // namespace fleet
