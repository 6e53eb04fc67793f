#include "actions.hpp"

#include "tools.hpp"

namespace fleet {

std::vector<std::string> action_argv(const HelperPolicy& policy, const Request& request) {
    if (request.command == Command::service) {
        return {policy.systemctl, "--no-pager", request.action, "--", request.name};
    }
    std::vector<std::string> argv{policy.apt_get, "-y"};
    if (request.action == "install" || request.action == "upgrade") {
        argv.insert(argv.end(), {"-o", "Dpkg::Options::=--force-confdef", "-o",
                                 "Dpkg::Options::=--force-confold"});
    }
    argv.push_back(request.action);
    if (package_action_takes_name(request.action)) {
        argv.insert(argv.end(), {"--", request.name});
    }
    return argv;
}

std::vector<std::string> action_environment() {
    std::vector<std::string> env = tool_environment();
    env.emplace_back("DEBIAN_FRONTEND=noninteractive");
    return env;
}

} // namespace fleet
