// Strict reading of a TOML document: parse errors with line and column, unknown keys refused,
// and typed getters that record the first problem as "<subject>: <key path>: <why>". Shared by
// dispatch's config and fleet-helper's policy.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "base/duration.hpp"
#include "sys/result.hpp"

namespace fleet {

// `text` as a TOML basic string, quotes included: '"' and '\\' escaped, control characters
// as \uXXXX. What dispatch writes into TOML (its `config` output, codex's -c values) cannot end
// the string or add a key.
std::string toml_quote(std::string_view text);

// Parses `text`; an error reads "<subject>:<line>:<column>: <description>".
Result<toml::table> parse_toml(std::string_view text, const std::string& subject);

// Collects the first error; `where` is the dotted key path. `subject` names the document, e.g.
// "config /etc/fleet-dispatch/config.toml".
class TomlChecker {
public:
    explicit TomlChecker(std::string subject) : m_subject(std::move(subject)) {}

    // A document merged from several (dispatch's drop-ins, merge_toml): errors name the document
    // the faulty key came from, when it is not `subject`.
    void locate_in(const toml::table& root) { m_root = &root; }

    bool failed() const { return !m_error.empty(); }
    Error error() const;

    void fail(const std::string& where, const std::string& why);
    void only_keys(const toml::table& table, const std::string& where,
                   std::initializer_list<std::string_view> allowed);
    // Each getter leaves `out` unchanged when the key is absent.
    void string(const toml::table& table, std::string_view key, const std::string& where,
                std::string& out);
    void duration(const toml::table& table, std::string_view key, const std::string& where,
                  Duration& out);
    void string_list(const toml::table& table, std::string_view key, const std::string& where,
                     std::vector<std::string>& out);
    // An integer from `min` to `max` (a float or a string is none).
    void integer(const toml::table& table, std::string_view key, const std::string& where,
                 int64_t min, int64_t max, size_t& out);
    void boolean(const toml::table& table, std::string_view key, const std::string& where,
                 bool& out);
    // The table at `key`: nullptr when absent, and when it is no table (then "must be `what`"
    // is the problem recorded).
    const toml::table* table(const toml::table& parent, std::string_view key,
                             const std::string& where, const std::string& what);

private:
    std::string m_subject;
    std::string m_where;
    std::string m_error;
    const toml::table* m_root = nullptr;
};

// Merges `from` over `into`: a key of `from` replaces the same key of `into`, but a table in both
// is merged key by key; arrays are replaced whole. Each node keeps its source (parse_toml's
// subject), which TomlChecker::locate_in reports.
void merge_toml(toml::table& into, toml::table&& from);

} // namespace fleet
