#include "guard/helper/policy.hpp"

#include <algorithm>

#include "base/toml_check.hpp"
#include "base/trusted_file.hpp"
#include "base/untrusted_text.hpp"

namespace fleet {

namespace {

constexpr size_t k_max_policy_bytes = 1 << 20;

template <size_t N>
bool is_one_of(std::string_view word, const std::string_view (&set)[N]) {
    return std::find(std::begin(set), std::end(set), word) != std::end(set);
}

// Reads `key` as an array of actions, each one of `known`.
template <size_t N>
void action_set(const toml::table& table, std::string_view key, const std::string& where,
                const std::string_view (&known)[N], TomlChecker& check,
                std::set<std::string>& out) {
    if (!table.contains(key)) {
        return;
    }
    std::vector<std::string> list;
    check.string_list(table, key, where, list);
    out.clear();
    for (const std::string& action : list) {
        if (!is_one_of(action, known)) {
            check.fail(where, "unknown action '" + action + "'");
        }
        out.insert(action);
    }
}

template <size_t N>
void name_table(const toml::table& root, std::string_view key, const std::string_view (&known)[N],
                bool (*valid)(std::string_view), TomlChecker& check,
                std::map<std::string, std::set<std::string>>& out) {
    const toml::table* table =
        check.table(root, key, std::string(key), "a table of name = [actions]");
    if (table == nullptr) {
        return;
    }
    for (const auto& [name_key, value] : *table) {
        const std::string name(name_key.str());
        const std::string where = std::string(key) + "." + name;
        if (!valid(name)) {
            check.fail(where, "not a valid name");
        }
        action_set(*table, name, where, known, check, out[name]);
    }
}

void absolute_path(const toml::table& root, std::string_view key, TomlChecker& check,
                   std::string& out) {
    check.string(root, key, std::string(key), out);
    if (out.empty() || out[0] != '/') {
        check.fail(std::string(key), "must be an absolute path");
    }
}

nlohmann::json sorted(const std::set<std::string>& set) {
    return nlohmann::json(set);
}

} // namespace

Result<HelperPolicy> parse_policy(std::string_view text, const std::string& source) {
    const std::string subject = "policy " + source;
    Result<toml::table> parsed = parse_toml(text, subject);
    if (!parsed) {
        return parsed.error();
    }
    const toml::table& root = *parsed;
    HelperPolicy policy;
    policy.source = source;
    TomlChecker check(subject);
    check.only_keys(root, "",
                    {"systemctl", "apt_get", "timeout", "grace", "audit_log", "protected_services",
                     "protected_packages", "socket_users", "services", "packages", "apt", "totp"});
    absolute_path(root, "systemctl", check, policy.systemctl);
    absolute_path(root, "apt_get", check, policy.apt_get);
    absolute_path(root, "audit_log", check, policy.audit_log);
    check.duration(root, "timeout", "timeout", policy.timeout);
    check.duration(root, "grace", "grace", policy.grace);
    name_table(root, "services", k_service_actions, is_valid_unit_name, check, policy.services);
    name_table(root, "packages", k_package_actions, is_valid_package_name, check, policy.packages);
    for (const auto& [name, actions] : policy.packages) {
        for (const std::string& action : actions) {
            if (!package_action_takes_name(action)) {
                check.fail("packages." + name, "'" + action + "' takes no name: list it in [apt]");
            }
        }
    }
    if (const toml::table* apt = check.table(root, "apt", "apt", "a table")) {
        check.only_keys(*apt, "apt", {"actions"});
        action_set(*apt, "actions", "apt.actions", k_package_actions, check, policy.apt_actions);
        for (const std::string& action : policy.apt_actions) {
            if (package_action_takes_name(action)) {
                check.fail("apt.actions", "'" + action + "' needs a name: list it in [packages]");
            }
        }
    }
    if (const toml::table* totp = check.table(root, "totp", "totp", "a table")) {
        check.only_keys(*totp, "totp", {"secret", "state", "service", "package"});
        absolute_path(*totp, "secret", check, policy.totp_secret);
        absolute_path(*totp, "state", check, policy.totp_state);
        action_set(*totp, "service", "totp.service", k_service_actions, check,
                   policy.totp_service_actions);
        action_set(*totp, "package", "totp.package", k_package_actions, check,
                   policy.totp_package_actions);
    }
    std::vector<std::string> users;
    check.string_list(root, "socket_users", "socket_users", users);
    for (const std::string& user : users) {
        if (user.empty() || user == "root" || user.find_first_of(" \t\n:/") != std::string::npos) {
            check.fail("socket_users", "'" + user + "' is not a user name that may be listed");
        }
    }
    policy.socket_users.insert(users.begin(), users.end());
    std::vector<std::string> extra;
    check.string_list(root, "protected_services", "protected_services", extra);
    policy.protected_services.insert(extra.begin(), extra.end());
    extra.clear();
    check.string_list(root, "protected_packages", "protected_packages", extra);
    policy.protected_packages.insert(extra.begin(), extra.end());
    for (std::string_view name : k_builtin_protected_services) {
        policy.protected_services.emplace(name);
    }
    for (std::string_view name : k_builtin_protected_packages) {
        policy.protected_packages.emplace(name);
    }
    if (check.failed()) {
        return check.error();
    }
    return policy;
}

Result<HelperPolicy> load_policy(const std::string& path) {
    TrustRules rules;
    rules.max_bytes = k_max_policy_bytes;
    Result<std::optional<std::string>> text = read_trusted_file(path, "policy " + path, rules);
    if (!text) {
        return text.error();
    }
    return parse_policy(**text, path);
}

Ruling decide(const HelperPolicy& policy, const Request& request) {
    Ruling ruling;
    const std::string shown = "'" + escape_untrusted(request.name) + "'";
    if (request.command == Command::service) {
        if (!is_valid_unit_name(request.name)) {
            ruling.reason = "service name " + shown + " is not a valid unit name";
            return ruling;
        }
        const auto entry = policy.services.find(request.name);
        if (entry == policy.services.end()) {
            ruling.reason = "service " + shown + " is not allowed";
            return ruling;
        }
        if (entry->second.count(request.action) == 0) {
            ruling.reason = "service " + request.action + " is not allowed for " + shown;
            return ruling;
        }
        if ((request.action == "stop" || request.action == "disable") &&
            is_protected_unit(policy, {request.name})) {
            ruling.reason = "service " + shown +
                            " is protected: the helper never stops or "
                            "disables it";
            return ruling;
        }
        ruling.needs_totp = policy.totp_service_actions.count(request.action) != 0;
        ruling.allowed = true;
        return ruling;
    }
    if (request.command == Command::package) {
        ruling.needs_totp = policy.totp_package_actions.count(request.action) != 0;
        if (!package_action_takes_name(request.action)) {
            ruling.allowed = policy.apt_actions.count(request.action) != 0;
            if (!ruling.allowed) {
                ruling.reason = "package " + request.action + " is not allowed";
            }
            return ruling;
        }
        if (!is_valid_package_name(request.name)) {
            ruling.reason = "package name " + shown + " is not a valid Debian package name";
            return ruling;
        }
        const auto entry = policy.packages.find(request.name);
        if (entry == policy.packages.end()) {
            ruling.reason = "package " + shown + " is not allowed";
            return ruling;
        }
        if (entry->second.count(request.action) == 0) {
            ruling.reason = "package " + request.action + " is not allowed for " + shown;
            return ruling;
        }
        if (request.action == "remove" && policy.protected_packages.count(request.name) != 0) {
            ruling.reason = "package " + shown + " is protected: the helper never removes it";
            return ruling;
        }
        ruling.allowed = true;
        return ruling;
    }
    ruling.reason = "not a service or package request";
    return ruling;
}

bool is_protected_unit(const HelperPolicy& policy, const std::vector<std::string>& names) {
    constexpr std::string_view k_unit_types[] = {".service", ".socket", ".target",   ".path",
                                                 ".timer",   ".mount",  ".automount"};
    return std::any_of(names.begin(), names.end(), [&](std::string name) {
        for (const std::string_view type : k_unit_types) {
            if (name.size() > type.size() && name.ends_with(type)) {
                name.resize(name.size() - type.size());
                break;
            }
        }
        return policy.protected_services.count(name.substr(0, name.find('@'))) != 0;
    });
}

nlohmann::json policy_json(const HelperPolicy& policy) {
    nlohmann::json services = nlohmann::json::object();
    for (const auto& [name, actions] : policy.services) {
        services[name] = sorted(actions);
    }
    nlohmann::json packages = nlohmann::json::object();
    for (const auto& [name, actions] : policy.packages) {
        packages[name] = sorted(actions);
    }
    return {{"source", policy.source},
            {"systemctl", policy.systemctl},
            {"apt_get", policy.apt_get},
            {"timeout", format_duration(policy.timeout)},
            {"grace", format_duration(policy.grace)},
            {"audit_log", policy.audit_log},
            {"socket_users", policy.socket_users},
            {"services", services},
            {"packages", packages},
            {"apt", {{"actions", sorted(policy.apt_actions)}}},
            {"totp",
             {{"service", sorted(policy.totp_service_actions)},
              {"package", sorted(policy.totp_package_actions)},
              {"secret", policy.totp_secret},
              {"state", policy.totp_state}}},
            {"protected_services", sorted(policy.protected_services)},
            {"protected_packages", sorted(policy.protected_packages)}};
}

} // namespace fleet
