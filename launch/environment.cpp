#include "launch/environment.hpp"

#include <algorithm>
#include <map>
#include <string_view>

namespace fleet {

namespace {

// Caller variables that describe the terminal and the locale, not the caller.
bool is_passed_through(std::string_view name) {
    return name == "TERM" || name == "LANG" || name == "TZ" || name.starts_with("LC_");
}

} // namespace

std::string default_path(const std::string& home) {
    return home + "/.local/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
}

bool is_valid_env_name(const std::string& name) {
    if (name.empty() || (name[0] >= '0' && name[0] <= '9')) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_';
    });
}

Result<std::pair<std::string, std::string>> parse_env_assignment(const std::string& text) {
    const size_t equals = text.find('=');
    if (equals == std::string::npos) {
        return input_error("--env '" + text + "' is not NAME=VALUE");
    }
    std::string name = text.substr(0, equals);
    if (!is_valid_env_name(name)) {
        return input_error("--env '" + text + "': '" + name + "' is not a valid variable name");
    }
    return std::pair{std::move(name), text.substr(equals + 1)};
}

Result<std::vector<std::string>> build_environment(const Identity& identity,
                                                   const char* const* caller_env,
                                                   const EnvironmentRequest& request) {
    for (const std::string& name : request.pass) {
        if (!is_valid_env_name(name)) {
            return input_error("--pass-env '" + name + "' is not a valid variable name");
        }
    }
    for (const auto& [name, value] : request.set) {
        if (!is_valid_env_name(name)) {
            return input_error("--env '" + name + "' is not a valid variable name");
        }
    }

    std::map<std::string, std::string> env;
    for (const char* const* entry = caller_env; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        const size_t equals = text.find('=');
        if (equals == std::string_view::npos) {
            continue;
        }
        const std::string name(text.substr(0, equals));
        const bool requested =
            std::find(request.pass.begin(), request.pass.end(), name) != request.pass.end();
        if (is_passed_through(name) || requested) {
            // The first definition wins, as getenv() sees it.
            env.emplace(name, std::string(text.substr(equals + 1)));
        }
    }
    env["HOME"] = identity.home;
    env["USER"] = identity.name;
    env["LOGNAME"] = identity.name;
    env["SHELL"] = identity.shell;
    env["PATH"] = default_path(identity.home);
    for (const auto& [name, value] : request.set) {
        env[name] = value;
    }

    std::vector<std::string> result;
    result.reserve(env.size());
    for (const auto& [name, value] : env) {
        result.push_back(name + "=" + value);
    }
    return result;
}

} // namespace fleet
