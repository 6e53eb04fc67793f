// Becoming the target: what every dispatch subcommand does first.
//
// As root, in this order, single-threaded, before any thread exists:
//   1. load the config (StrictModes: config.hpp);
//   2. resolve the target user (-u, else config `user`) with the launcher library;
//   3. drop the whole process to it (no_new_privs per config), verify, else exit 3;
//   4. chdir to its home (else /): SSM's cwd may be unreadable to the user.
// From then on every file dispatch writes belongs to the user, and readers (status, logs) can
// be fooled by nothing the user planted, since they hold no more rights than the user.
// Not root: runs as the caller; -u naming someone else is a setup error.
#pragma once

#include <string>

#include "config.hpp"
#include "identity.hpp"
#include "result.hpp"

namespace fleet {

struct Session {
    Config config;
    Identity identity;
    std::string runs_dir;
};

// On failure, `exit_code` is k_exit_usage or k_exit_setup and the Error says why.
Result<Session> become_target(const std::string& config_path, const std::string& user,
                              int& exit_code);

} // namespace fleet
