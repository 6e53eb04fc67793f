#include "guard/helper/actions.hpp"

#include "guard/common/tools.hpp"

namespace fleet {

std::vector<std::string> action_argv(const HelperPolicy& policy, const Request& request) {
    if (request.command == Command::service) {
        return {policy.systemctl, "--no-pager", request.action, "--", request.name};
    }
    std::vector<std::string> argv{policy.apt_get, "-y"};
    if (request.action == "install") {
        argv.emplace_back("--no-remove"); // whatever apt decides after the simulation
    }
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

std::vector<std::string> simulation_argv(const HelperPolicy& policy, const Request& request) {
    if (request.action == "update") {
        return {};
    }
    std::vector<std::string> argv{policy.apt_get, "-s"};
    if (request.action == "install") {
        argv.emplace_back("--no-remove");
    }
    argv.push_back(request.action);
    if (package_action_takes_name(request.action)) {
        argv.insert(argv.end(), {"--", request.name});
    }
    return argv;
}

std::vector<std::string> unit_names_argv(const HelperPolicy& policy, const std::string& unit) {
    return {policy.systemctl,   "--no-pager", "show", "--property=Id",
            "--property=Names", "--value",    "--",   unit};
}

std::vector<std::string> action_environment() {
    std::vector<std::string> env = tool_environment();
    env.emplace_back("DEBIAN_FRONTEND=noninteractive");
    return env;
}

} // namespace fleet
