#include "actions.hpp"

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
    return {"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG=C.UTF-8",
            "LC_ALL=C.UTF-8",
            "TERM=dumb",
            "SYSTEMD_PAGER=cat",
            "PAGER=cat",
            "SYSTEMD_PAGERSECURE=1",
            "LESSSECURE=1",
            "SYSTEMD_COLORS=0",
            "DEBIAN_FRONTEND=noninteractive"};
}

} // namespace fleet
