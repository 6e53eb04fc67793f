#include "guard/diag/policy.hpp"

#include "base/toml_check.hpp"
#include "base/trusted_file.hpp"

namespace fleet {

namespace {

constexpr size_t k_max_policy_bytes = 1 << 20;

bool is_plain_absolute(const std::string& path) {
    if (path.empty() || path[0] != '/' || (path.size() > 1 && path.back() == '/')) {
        return false;
    }
    return path.find("//") == std::string::npos && path.find("/./") == std::string::npos &&
           path.find("/../") == std::string::npos && !path.ends_with("/.") &&
           !path.ends_with("/..");
}

void path_list(const toml::table& root, std::string_view key, TomlChecker& check,
               std::vector<std::string>& out) {
    check.string_list(root, key, std::string(key), out);
    for (const std::string& path : out) {
        if (!is_plain_absolute(path)) {
            check.fail(std::string(key), "'" + path + "' is not a plain absolute path");
        }
    }
}

void name_set(const toml::table& root, std::string_view key, TomlChecker& check,
              std::set<std::string>& out) {
    std::vector<std::string> list;
    check.string_list(root, key, std::string(key), list);
    out.insert(list.begin(), list.end());
}

} // namespace

Result<DiagPolicy> parse_diag_policy(std::string_view text, const std::string& source) {
    const std::string subject = "policy " + source;
    Result<toml::table> parsed = parse_toml(text, subject);
    if (!parsed) {
        return parsed.error();
    }
    const toml::table& root = *parsed;
    DiagPolicy policy;
    policy.source = source;
    TomlChecker check(subject);
    check.only_keys(root, "",
                    {"roots", "deny", "persist", "commands", "units", "containers", "max_output",
                     "timeout", "audit_log", "tools"});
    path_list(root, "roots", check, policy.roots);
    std::vector<std::string> deny;
    path_list(root, "deny", check, deny);
    path_list(root, "persist", check, policy.persist);
    name_set(root, "commands", check, policy.commands);
    for (const std::string& command : policy.commands) {
        if (!policy.tools.contains(command) && command != "cat" && command != "head" &&
            command != "tail" && command != "ls" && command != "stat") {
            check.fail("commands", "unknown command '" + command + "'");
        }
    }
    name_set(root, "units", check, policy.units);
    name_set(root, "containers", check, policy.containers);
    check.integer(root, "max_output", "max_output", 1024, int64_t{64} << 20, policy.max_output);
    check.duration(root, "timeout", "timeout", policy.timeout);
    check.string(root, "audit_log", "audit_log", policy.audit_log);
    if (!is_plain_absolute(policy.audit_log)) {
        check.fail("audit_log", "must be a plain absolute path");
    }
    if (const toml::table* tools = check.table(root, "tools", "tools", "a table")) {
        for (const auto& [key, value] : *tools) {
            const std::string name(key.str());
            const auto path = value.value<std::string>();
            if (!policy.tools.contains(name)) {
                check.fail("tools." + name, "unknown tool");
            } else if (!path || !is_plain_absolute(*path)) {
                check.fail("tools." + name, "must be a plain absolute path");
            } else {
                policy.tools[name] = *path;
            }
        }
    }
    if (check.failed()) {
        return check.error();
    }
    std::vector<std::string> patterns(std::begin(k_builtin_diag_deny),
                                      std::end(k_builtin_diag_deny));
    patterns.insert(patterns.end(), deny.begin(), deny.end());
    for (const std::string& pattern : patterns) {
        policy.deny.push_back(pattern);
        for (const std::string& prefix : policy.persist) {
            policy.deny.push_back(prefix + pattern);
        }
    }
    return policy;
}

Result<DiagPolicy> load_diag_policy(const std::string& path, bool required) {
    TrustRules rules;
    rules.missing = required ? IfMissing::error : IfMissing::absent;
    rules.max_bytes = k_max_policy_bytes;
    Result<std::optional<std::string>> text = read_trusted_file(path, "policy " + path, rules);
    if (!text) {
        return text.error();
    }
    return *text ? parse_diag_policy(**text, path) : parse_diag_policy("", "built-in defaults");
}

} // namespace fleet
