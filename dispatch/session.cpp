#include "dispatch/session.hpp"

#include <cerrno>
#include <sys/prctl.h>
#include <unistd.h>

#include "dispatch/agent_access.hpp"
#include "dispatch/env_file.hpp"
#include "dispatch/report.hpp"
#include "launch/credentials.hpp"
#include "runner/status.hpp"

namespace fleet {

Result<Session> load_session(const std::string& config_path, const std::string& user,
                             int& exit_code) {
    const bool as_root = ::geteuid() == 0;
    exit_code = k_exit_usage;
    Result<Config> config = load_config(config_path, as_root);
    if (!config) {
        return config.error();
    }
    Session session{std::move(*config), {}, {}, as_root};
    const std::string target = user.empty() ? session.config.user : user;
    if (as_root) {
        Result<Identity> identity = resolve_identity(target, {});
        if (!identity) {
            exit_code = exit_code_for(identity.error());
            return Error{identity.error().kind, "user: " + identity.error().message};
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
    session.runs_dir = session.config.runs_dir.empty()
                           ? session.identity.home + "/.local/state/fleet-dispatch/runs"
                           : session.config.runs_dir;
    exit_code = k_exit_usage;
    if (Status paths = check_access_paths(session.config, session.identity.home, session.runs_dir);
        !paths) {
        return paths.error();
    }
    exit_code = 0;
    return session;
}

Status load_secrets(Session& session, const std::vector<std::string>& agents, int& exit_code) {
    exit_code = k_exit_usage;
    for (const std::string& name : agents) {
        AgentConfig& agent = session.config.agents.at(name);
        if (agent.env_file.empty()) {
            continue;
        }
        Result<EnvPairs> secrets = read_env_file(agent.env_file, session.as_root);
        if (!secrets) {
            return Error{secrets.error().kind, "agents." + name + ": " + secrets.error().message};
        }
        agent.secret_env = std::move(*secrets);
    }
    exit_code = 0;
    return Ok{};
}

Status drop_to_target(Session& session, int& exit_code) {
    exit_code = k_exit_setup;
    if (session.as_root) {
        const NoNewPrivs nnp = session.config.no_new_privs ? NoNewPrivs::yes : NoNewPrivs::no;
        if (Status dropped = drop_privileges(session.identity, nnp); !dropped) {
            return dropped;
        }
        if (Status verified = verify_credentials(session.identity, nnp); !verified) {
            return verified;
        }
        // Not dumpable whatever fs.suid_dumpable says: a process of the user (an agent)
        // cannot ptrace dispatch nor take the descriptors root opened for it (the run's
        // cgroups: run_cgroups.hpp) through /proc or pidfd_getfd.
        if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
            return system_error("prctl(PR_SET_DUMPABLE, 0)", errno);
        }
    }
    if (::chdir(session.identity.home.c_str()) != 0 && ::chdir("/") != 0) {
        return system_error("chdir /", errno);
    }
    exit_code = 0;
    return Ok{};
}

} // namespace fleet
