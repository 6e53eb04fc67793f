#include "session.hpp"

#include <cerrno>
#include <unistd.h>

#include "credentials.hpp"
#include "status.hpp"

namespace fleet {

Result<Session> become_target(const std::string& config_path, const std::string& user,
                              int& exit_code) {
    const bool as_root = ::geteuid() == 0;
    exit_code = k_exit_usage;
    Result<Config> config = load_config(config_path, as_root);
    if (!config) {
        return config.error();
    }
    Session session{std::move(*config), {}, {}};
    const std::string target = user.empty() ? session.config.user : user;

    if (as_root) {
        Result<Identity> identity = resolve_identity(target, {});
        if (!identity) {
            exit_code =
                identity.error().kind == ErrorKind::invalid_input ? k_exit_usage : k_exit_setup;
            return Error{identity.error().kind, "user: " + identity.error().message};
        }
        const NoNewPrivs nnp = session.config.no_new_privs ? NoNewPrivs::yes : NoNewPrivs::no;
        exit_code = k_exit_setup;
        if (Status dropped = drop_privileges(*identity, nnp); !dropped) {
            return dropped.error();
        }
        if (Status verified = verify_credentials(*identity, nnp); !verified) {
            return verified.error();
        }
        session.identity = std::move(*identity);
    } else {
        Result<Identity> self = current_identity();
        exit_code = k_exit_setup;
        if (!self) {
            return self.error();
        }
        if (!user.empty() && user != self->name && user != std::to_string(self->uid)) {
            return Error{ErrorKind::system, "not root: cannot run as '" + user +
                                                "'; dispatch runs as the calling user '" +
                                                self->name + "'"};
        }
        session.identity = std::move(*self);
    }
    if (::chdir(session.identity.home.c_str()) != 0 && ::chdir("/") != 0) {
        exit_code = k_exit_setup;
        return system_error("chdir /", errno);
    }
    session.runs_dir = session.config.runs_dir.empty()
                           ? session.identity.home + "/.local/state/fleet-dispatch/runs"
                           : session.config.runs_dir;
    exit_code = 0;
    return session;
}

} // namespace fleet
