// Becoming the target: what every dispatch subcommand does first, in three steps.
//
// As root, in this order, single-threaded, before any thread exists:
//   1. load_session: load the config (StrictModes: config.hpp) and resolve the target user
//      (-u, else config `user`) with the launcher library;
//   2. load_secrets: read the env_files of the agents about to run (env_file.hpp), while still
//      root, so the agent user never needs to read them;
//   3. drop_to_target: drop the whole process to the user (no_new_privs per config), verify
//      it, make it not dumpable (prctl: no process of the user may ptrace it or take its
//      descriptors), chdir to its home (SSM's cwd may be unreadable to the user).
// From then on every file dispatch writes belongs to the user, and readers (status, logs) can
// be fooled by nothing the user planted, since they hold no more rights than the user.
// Not root: runs as the caller; -u naming someone else is a setup error.
// On failure `exit_code` is k_exit_usage or k_exit_setup and the Error says why.
//
// Tested end to end only (tests/integration/dispatch_*.cpp and operate_*.cpp): each step is a
// real privilege drop of the whole process, with real users.
#pragma once

#include <string>
#include <vector>

#include "dispatch/config.hpp"
#include "launch/identity.hpp"
#include "sys/result.hpp"

namespace fleet {

struct Session {
    Config config;
    Identity identity;
    std::string runs_dir;
    bool as_root = false;
};

Result<Session> load_session(const std::string& config_path, const std::string& user,
                             int& exit_code);

Status load_secrets(Session& session, const std::vector<std::string>& agents, int& exit_code);

Status drop_to_target(Session& session, int& exit_code);

} // namespace fleet
