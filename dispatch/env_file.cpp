#include "dispatch/env_file.hpp"

#include "base/trusted_file.hpp"
#include "launch/environment.hpp"

namespace fleet {

namespace {

constexpr size_t k_max_env_file = 1 << 20;

} // namespace

Result<EnvPairs> parse_env_file(std::string_view text, const std::string& source) {
    EnvPairs pairs;
    size_t start = 0;
    int number = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        ++number;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        const size_t first = line.find_first_not_of(" \t");
        if (first == std::string_view::npos || line[first] == '#') {
            continue;
        }
        line.remove_prefix(first);
        if (line.rfind("export ", 0) == 0) {
            line.remove_prefix(7);
        }
        const size_t equals = line.find('=');
        const std::string name(line.substr(0, equals));
        if (equals == std::string_view::npos || !is_valid_env_name(name)) {
            return input_error("env_file " + source + ":" + std::to_string(number) +
                               ": not a KEY=VALUE line");
        }
        std::string value(line.substr(equals + 1));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front()) {
            value = value.substr(1, value.size() - 2);
        }
        pairs.emplace_back(name, std::move(value));
    }
    return pairs;
}

Result<EnvPairs> read_env_file(const std::string& path, bool as_root) {
    // As root: root's, no access for others (the agent user must not read it itself), and no
    // directory above it in which anyone but root could replace it (sticky /tmp is fine).
    TrustRules rules;
    rules.owner = as_root ? Owner::root : Owner::anyone;
    rules.forbidden = as_root ? 007 : 0;
    rules.ancestors = as_root ? Ancestors::sticky_ok : Ancestors::unchecked;
    rules.max_bytes = k_max_env_file;
    Result<std::optional<std::string>> text = read_trusted_file(path, "env_file " + path, rules);
    if (!text) {
        return text.error();
    }
    return parse_env_file(**text, path);
}

} // namespace fleet
