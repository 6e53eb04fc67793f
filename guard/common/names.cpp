#include "guard/common/names.hpp"

#include <algorithm>

namespace fleet {

namespace {

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

} // namespace

bool is_valid_unit_name(std::string_view name) {
    if (name.empty() || name.size() > 255 || name[0] == '-' || name[0] == '.' ||
        name.find("..") != std::string_view::npos ||
        name.find_first_not_of("0123456789") == std::string_view::npos) {
        return false; // all digits: systemctl status reads a PID
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return is_alnum(c) || c == ':' || c == '_' || c == '.' || c == '@' || c == '-';
    });
}

bool is_valid_package_name(std::string_view name) {
    if (name.size() < 2 || name.size() > 255 || name.find("..") != std::string_view::npos) {
        return false;
    }
    const auto lower_or_digit = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    };
    return lower_or_digit(name[0]) && std::all_of(name.begin(), name.end(), [&](char c) {
               return lower_or_digit(c) || c == '+' || c == '.' || c == '-';
           });
}

bool is_valid_container_name(std::string_view name) {
    return !name.empty() && name.size() <= 128 && is_alnum(name[0]) &&
           std::all_of(name.begin(), name.end(),
                       [](char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; });
}

} // namespace fleet
