#include "dispatch/agents/outcome_text.hpp"

#include <algorithm>
#include <cctype>

namespace fleet {

namespace {

constexpr size_t k_max_reason = 160;

} // namespace

// First line of `text`, trimmed and cut to a short reason.
std::string short_text(const std::string& text) {
    std::string line = text.substr(0, text.find('\n'));
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())) != 0) {
        line.pop_back();
    }
    if (line.size() > k_max_reason) {
        line = line.substr(0, k_max_reason - 3) + "...";
    }
    return line;
}

// "API error 401" when `text` names an HTTP error status the way the CLIs print them
// ("API Error: 401", "status 500", "Error code: 429", "401 Unauthorized"); else empty.
std::string api_error_of(const std::string& text) {
    for (size_t i = 0; i + 3 <= text.size(); ++i) {
        const bool digits = std::isdigit(static_cast<unsigned char>(text[i])) != 0 &&
                            std::isdigit(static_cast<unsigned char>(text[i + 1])) != 0 &&
                            std::isdigit(static_cast<unsigned char>(text[i + 2])) != 0;
        const bool alone =
            (i == 0 || std::isdigit(static_cast<unsigned char>(text[i - 1])) == 0) &&
            (i + 3 == text.size() || std::isdigit(static_cast<unsigned char>(text[i + 3])) == 0);
        if (!digits || !alone || (text[i] != '4' && text[i] != '5')) {
            continue;
        }
        const std::string before = text.substr(i >= 12 ? i - 12 : 0, i >= 12 ? 12 : i);
        const std::string after = text.substr(i + 3, 14);
        std::string lower_before = before;
        std::transform(lower_before.begin(), lower_before.end(), lower_before.begin(), ::tolower);
        if (lower_before.find("error") != std::string::npos ||
            lower_before.find("status") != std::string::npos ||
            lower_before.find("code") != std::string::npos ||
            after.rfind(" Unauthorized", 0) == 0 || after.rfind(" Internal", 0) == 0 ||
            after.rfind(" Too Many", 0) == 0 || after.rfind(" Forbidden", 0) == 0) {
            return "API error " + text.substr(i, 3);
        }
    }
    return "";
}

std::string reason_from_message(const std::string& message) {
    std::string api = api_error_of(message);
    if (!api.empty()) {
        return api;
    }
    if (message.find("Not logged in") != std::string::npos) {
        return "not logged in";
    }
    return short_text(message);
}

bool nesting_within(std::string_view text, int limit) {
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) {
                return false;
            }
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return true;
}

// A count: a non-negative integer (a negative or fractional one is no count).
std::optional<uint64_t> number_at(const nlohmann::json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_number_integer() ||
        (!it->is_number_unsigned() && it->get<int64_t>() < 0)) {
        return std::nullopt;
    }
    return it->get<uint64_t>();
}

std::string string_at(const nlohmann::json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

} // namespace fleet
