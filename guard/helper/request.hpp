// fleet-helper's command line, parsed into a typed request. The grammar is ours and exact: no
// abbreviations, no options after the request but --totp, no clusters. Names are taken as
// given here and judged by the policy (policy.hpp), so that a hostile name is a refusal (exit
// 2) with the name in the answer, while a malformed request is a usage error (exit 4).
//
//   fleet-helper [--policy PATH] service ACTION NAME [--totp CODE]
//   fleet-helper [--policy PATH] package ACTION [NAME] [--totp CODE]
//   fleet-helper [--policy PATH] ping | policy
// (Enrolling TOTP and installing the sudoers rule are fleet-admin's: admin/fleet_admin.cpp.)
//   fleet-helper --help | --version
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sys/result.hpp"

namespace fleet {

enum class Command { service, package, ping, policy, help, version };

struct Request {
    Command command = Command::help;
    std::string action;                // service and package actions
    std::string name;                  // unit or package; empty for package update|upgrade
    std::optional<std::string> totp;   // as given; never echoed or logged
    std::optional<std::string> policy; // --policy PATH
};

inline constexpr std::string_view k_service_actions[] = {"status", "start",  "stop",   "restart",
                                                         "reload", "enable", "disable"};
inline constexpr std::string_view k_package_actions[] = {"install", "remove", "update", "upgrade"};

// True for the package actions that take a NAME (install, remove).
bool package_action_takes_name(std::string_view action);

// The PATH of a leading "--policy PATH" (or --policy=PATH), even when the rest of `args` is
// malformed: a usage error is audited to that policy's log.
std::optional<std::string> leading_policy(const std::vector<std::string>& args);

// `args` without argv[0]. Errors are invalid_input with a one-line message.
Result<Request> parse_request(const std::vector<std::string>& args);

// The request as the answer and the audit log show it: command, action, name, whether a TOTP
// code was given (never the code), the policy path when one was named.
nlohmann::json request_json(const Request& request);

// Names a command for messages: "service", "package", "install-sudoers", ...
std::string_view command_name(Command command);

} // namespace fleet
