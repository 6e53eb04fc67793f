#include "guard/helper/request.hpp"

#include <algorithm>

#include "base/untrusted_text.hpp"

namespace fleet {

namespace {

constexpr size_t k_max_args = 16;
constexpr size_t k_max_arg_bytes = 4096;

template <size_t N>
bool is_one_of(std::string_view word, const std::string_view (&set)[N]) {
    return std::find(std::begin(set), std::end(set), word) != std::end(set);
}

template <size_t N>
std::string joined(const std::string_view (&set)[N]) {
    std::string text;
    for (std::string_view word : set) {
        text += text.empty() ? "" : " ";
        text += word;
    }
    return text;
}

// Reads "--NAME VALUE" or "--NAME=VALUE" at args[i]; advances i past it. nullopt when args[i]
// is not that option; an empty optional value is reported by the caller.
std::optional<std::string> option_value(const std::vector<std::string>& args, size_t& i,
                                        std::string_view name, bool& missing) {
    const std::string& word = args[i];
    const std::string flag = "--" + std::string(name);
    if (word == flag) {
        if (i + 1 >= args.size()) {
            missing = true;
            return std::nullopt;
        }
        i += 2;
        return args[i - 1];
    }
    if (word.rfind(flag + "=", 0) == 0) {
        i += 1;
        return word.substr(flag.size() + 1);
    }
    return std::nullopt;
}

Error usage(const std::string& why) {
    return input_error(why + " (see fleet-helper --help)");
}

// The optional trailing --totp CODE of service and package requests.
Status parse_totp(const std::vector<std::string>& args, size_t i, Request& request) {
    if (i == args.size()) {
        return Ok{};
    }
    bool missing = false;
    std::optional<std::string> code = option_value(args, i, "totp", missing);
    if (missing) {
        return usage("--totp needs a code");
    }
    if (!code) {
        return usage("unexpected argument '" + args[i] + "'");
    }
    if (i != args.size()) {
        return usage("unexpected argument '" + args[i] + "' after --totp");
    }
    request.totp = *code;
    return Ok{};
}

Result<Request> parse_service(const std::vector<std::string>& args, size_t i, Request request) {
    if (i >= args.size()) {
        return usage("service needs an ACTION and a NAME");
    }
    request.action = args[i];
    if (!is_one_of(request.action, k_service_actions)) {
        return usage("unknown service action '" + request.action +
                     "'; expected one of: " + joined(k_service_actions));
    }
    if (i + 1 >= args.size()) {
        return usage("service " + request.action + " needs a NAME");
    }
    request.name = args[i + 1];
    if (Status totp = parse_totp(args, i + 2, request); !totp) {
        return totp.error();
    }
    return request;
}

Result<Request> parse_package(const std::vector<std::string>& args, size_t i, Request request) {
    if (i >= args.size()) {
        return usage("package needs an ACTION");
    }
    request.action = args[i++];
    if (!is_one_of(request.action, k_package_actions)) {
        return usage("unknown package action '" + request.action +
                     "'; expected one of: " + joined(k_package_actions));
    }
    if (package_action_takes_name(request.action)) {
        if (i >= args.size()) {
            return usage("package " + request.action + " needs a NAME");
        }
        request.name = args[i++];
    }
    if (Status totp = parse_totp(args, i, request); !totp) {
        return totp.error();
    }
    return request;
}

Result<Request> parse_rest(const std::vector<std::string>& args, size_t i, Request request) {
    const std::string& word = args[i++];
    if (word == "service") {
        request.command = Command::service;
        return parse_service(args, i, std::move(request));
    }
    if (word == "package") {
        request.command = Command::package;
        return parse_package(args, i, std::move(request));
    }
    if (word == "ping" || word == "policy") {
        request.command = word == "ping" ? Command::ping : Command::policy;
        if (i != args.size()) {
            return usage(word + " takes no arguments");
        }
        return request;
    }
    if (word == "totp" || word == "install-sudoers") {
        // Root's own set-up steps are fleet-admin's, a program no sudoers rule names.
        return usage("'" + word + "' is fleet-admin's: as root, fleet-admin " + word +
                     (word == "totp" ? " enroll" : " --user USER"));
    }
    return usage("unknown command '" + word + "'");
}

} // namespace

bool package_action_takes_name(std::string_view action) {
    return action == "install" || action == "remove";
}

std::string_view command_name(Command command) {
    switch (command) {
    case Command::service:
        return "service";
    case Command::package:
        return "package";
    case Command::ping:
        return "ping";
    case Command::policy:
        return "policy";
    case Command::help:
        return "help";
    case Command::version:
        return "version";
    }
    return "unknown";
}

std::optional<std::string> leading_policy(const std::vector<std::string>& args) {
    size_t i = 0;
    bool missing = false;
    return args.empty() ? std::nullopt : option_value(args, i, "policy", missing);
}

Result<Request> parse_request(const std::vector<std::string>& args) {
    if (args.empty()) {
        return usage("no command given");
    }
    if (args.size() > k_max_args) {
        return usage("too many arguments");
    }
    for (const std::string& arg : args) {
        if (arg.size() > k_max_arg_bytes) {
            return usage("an argument is longer than 4096 bytes");
        }
    }
    Request request;
    size_t i = 0;
    if (args[0] == "--help" || args[0] == "-h") {
        request.command = Command::help;
        return args.size() == 1 ? Result<Request>(request) : usage("--help takes no arguments");
    }
    if (args[0] == "--version") {
        request.command = Command::version;
        return args.size() == 1 ? Result<Request>(request) : usage("--version takes no arguments");
    }
    bool missing = false;
    if (std::optional<std::string> policy = option_value(args, i, "policy", missing)) {
        if (policy->empty() || (*policy)[0] != '/') {
            return usage("--policy needs an absolute path");
        }
        request.policy = *policy;
    } else if (missing) {
        return usage("--policy needs a path");
    }
    if (i >= args.size()) {
        return usage("no command given");
    }
    return parse_rest(args, i, std::move(request));
}

nlohmann::json request_json(const Request& request) {
    nlohmann::json json = {{"command", std::string(command_name(request.command))}};
    if (!request.action.empty()) {
        json["action"] = escape_untrusted(request.action);
    }
    if (!request.name.empty()) {
        json["name"] = escape_untrusted(request.name);
    }
    if (request.totp) {
        json["totp"] = "given";
    }
    if (request.policy) {
        json["policy"] = escape_untrusted(*request.policy);
    }
    return json;
}

} // namespace fleet
