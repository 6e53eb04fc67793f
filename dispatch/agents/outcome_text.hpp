// What the outcome parsers share: reading JSON lines out of a log, fields by type, short
// reasons from error text. Everything here takes what an agent printed and never throws on it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fleet {

// First line of `text`, trimmed and cut to a short reason (160 bytes).
std::string short_text(const std::string& text);

// "API error 401" when `text` names an HTTP error status the way the CLIs print them
// ("API Error: 401", "status 500", "Error code: 429", "401 Unauthorized"); else empty.
std::string api_error_of(const std::string& text);

// api_error_of, "not logged in", or short_text.
std::string reason_from_message(const std::string& message);

// Whether `text` nests arrays and objects no deeper than `limit` (strings skipped).
bool nesting_within(std::string_view text, int limit);

// A count: a non-negative integer field (a negative or fractional one is no count).
std::optional<uint64_t> number_at(const nlohmann::json& object, const char* key);

// A string field; "" when absent or not a string.
std::string string_at(const nlohmann::json& object, const char* key);

// Calls `visit` with each line of `log` that parses as a JSON object, nested at most 64 deep
// (deeper lines are not the CLIs' and are skipped: a line of a million '[' would otherwise be
// built into a million nested arrays, hundreds of MiB in the runner, before anything looked at
// it).
template <typename Visit>
void for_each_json_line(const std::string& log, Visit visit) {
    constexpr int k_max_json_depth = 64;
    size_t start = 0;
    while (start < log.size()) {
        size_t end = log.find('\n', start);
        if (end == std::string::npos) {
            end = log.size();
        }
        const size_t brace = log.find_first_not_of(" \t\r", start);
        if (brace < end && log[brace] == '{' &&
            nesting_within(std::string_view(log).substr(brace, end - brace), k_max_json_depth)) {
            const nlohmann::json line =
                nlohmann::json::parse(log.begin() + static_cast<long>(brace),
                                      log.begin() + static_cast<long>(end), nullptr, false);
            if (line.is_object()) {
                visit(line);
            }
        }
        start = end + 1;
    }
}

} // namespace fleet
