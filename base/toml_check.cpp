// toml++ is used as headers, its implementation compiled here once (CMakeLists.txt, fleet_toml):
// no run-time library of a release-specific name.
#define TOML_IMPLEMENTATION
#include "base/toml_check.hpp"

#include <algorithm>
#include <cstdio>

namespace fleet {

Result<toml::table> parse_toml(std::string_view text, const std::string& subject) {
    try {
        return toml::parse(text, subject);
    } catch (const toml::parse_error& e) {
        const auto& where = e.source().begin;
        return input_error(subject + ":" + std::to_string(where.line) + ":" +
                           std::to_string(where.column) + ": " + std::string(e.description()));
    }
}

std::string toml_quote(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20 || byte == 0x7f) {
            char escape[8];
            std::snprintf(escape, sizeof escape, "\\u%04x", byte);
            out += escape;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

void TomlChecker::fail(const std::string& where, const std::string& why) {
    if (m_error.empty()) {
        m_where = where;
        m_error = where + ": " + why;
    }
}

Error TomlChecker::error() const {
    std::string subject = m_subject;
    if (m_root != nullptr && !m_where.empty()) {
        const toml::node* node = m_root->at_path(m_where).node();
        if (node != nullptr && node->source().path && *node->source().path != m_subject) {
            subject = *node->source().path;
        }
    }
    return input_error(subject + ": " + m_error);
}

void merge_toml(toml::table& into, toml::table&& from) {
    for (auto&& [key, value] : from) {
        toml::table* mine = into.get_as<toml::table>(key);
        toml::table* theirs = value.as_table();
        if (mine != nullptr && theirs != nullptr) {
            merge_toml(*mine, std::move(*theirs));
        } else {
            into.insert_or_assign(key, std::move(value));
        }
    }
}

void TomlChecker::only_keys(const toml::table& table, const std::string& where,
                            std::initializer_list<std::string_view> allowed) {
    for (const auto& [key, value] : table) {
        if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end()) {
            fail(where.empty() ? std::string(key.str()) : where + "." + std::string(key.str()),
                 "unknown key");
        }
    }
}

void TomlChecker::string(const toml::table& table, std::string_view key, const std::string& where,
                         std::string& out) {
    if (const toml::node* node = table.get(key)) {
        if (const auto value = node->value<std::string>()) {
            out = *value;
        } else {
            fail(where, "must be a string");
        }
    }
}

void TomlChecker::duration(const toml::table& table, std::string_view key, const std::string& where,
                           Duration& out) {
    if (!table.contains(key)) {
        return;
    }
    std::string text;
    string(table, key, where, text);
    if (failed()) {
        return;
    }
    Result<Duration> parsed = parse_duration(text);
    if (!parsed) {
        fail(where, parsed.error().message);
        return;
    }
    out = *parsed;
}

void TomlChecker::string_list(const toml::table& table, std::string_view key,
                              const std::string& where, std::vector<std::string>& out) {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
        return;
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) {
        fail(where, "must be an array of strings");
        return;
    }
    out.clear();
    for (const toml::node& element : *array) {
        const auto text = element.value<std::string>();
        if (!text) {
            fail(where, "must be an array of strings");
            return;
        }
        out.push_back(*text);
    }
}

void TomlChecker::integer(const toml::table& table, std::string_view key, const std::string& where,
                          int64_t min, int64_t max, size_t& out) {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
        return;
    }
    const toml::value<int64_t>* value = node->as_integer();
    if (value == nullptr || value->get() < min || value->get() > max) {
        fail(where,
             "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
        return;
    }
    out = static_cast<size_t>(value->get());
}

void TomlChecker::boolean(const toml::table& table, std::string_view key, const std::string& where,
                          bool& out) {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
        return;
    }
    const toml::value<bool>* value = node->as_boolean();
    if (value == nullptr) {
        fail(where, "must be true or false");
        return;
    }
    out = value->get();
}

const toml::table* TomlChecker::table(const toml::table& parent, std::string_view key,
                                      const std::string& where, const std::string& what) {
    const toml::node* node = parent.get(key);
    if (node == nullptr) {
        return nullptr;
    }
    const toml::table* table = node->as_table();
    if (table == nullptr) {
        fail(where, "must be " + what);
    }
    return table;
}

} // namespace fleet
