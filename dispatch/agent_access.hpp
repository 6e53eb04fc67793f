// What one agent may touch: the decision behind its Landlock domain (runner/confinement.hpp),
// and the directories of its own that make the decision workable. docs/dispatch.md, "What an
// agent can and cannot do", lists the result line by line.
//
// Read and execute: the system (/usr, /etc, /opt, /proc, /sys, /dev, /run, /snap and the
// library and binary directories), where its CLI is installed (the whole node_modules tree
// the resolved program sits in; else the prefix above its bin/ directory, as a pipx or
// virtualenv or nvm has it; else its directory; and the same for the interpreter its #! line
// names, a regular file, through the system's env only by a plain name), its run's prompt.txt
// (that file alone), and the agent's `read` paths.
// Read and write: its work directory, its own home (below), its own temporary directory
// (TMPDIR), /dev/null, /dev/zero, /dev/full, /dev/tty, /dev/ptmx and /dev/pts, and the agent's
// `write` paths. Nothing else: not the user's home and its dotfiles, not the runs tree (its run's
// status.json, logs and lock included), not a sibling's work, home or temporary directory.
//
// Its own home: <home>/.local/state/fleet-dispatch/agents/<agent>, 0700, kept between runs and
// made its HOME, so a CLI's state (~/.claude, ~/.codex, npm's cache) is the agent's alone and
// outside the user's dotfiles. Made the first time from copies of the CLI's own entries in the
// user's home (AgentCli::home_state: a logged-in CLI stays logged in), never linked to them.
// Its temporary directory: <run dir>/tmp-<agent>, 0700, removed when the agent is done.
//
// An install location is granted only if it is not the user's home or above it, nor in or
// above the runs tree or the agents' homes (granting a directory grants everything beneath);
// otherwise the next narrower one is, down to the program file itself.
#pragma once

#include <string>
#include <vector>

#include "dispatch/config.hpp"
#include "runner/confinement.hpp"
#include "sys/result.hpp"

namespace fleet {

// <home>/.local/state/fleet-dispatch/agents: where every agent's own home is.
std::string agent_homes_dir(const std::string& user_home);

// What an agent's access is made from.
struct AccessInputs {
    std::string user_home;
    std::string runs_dir;
    std::string run_dir;
    std::string workdir;
    std::string agent_home;
    std::string tmpdir;
    std::string executable;             // resolved; empty when not found
    std::string path;                   // the agent's PATH, for an interpreter named through env
    std::vector<std::string> repo_read; // its origin's directories (agent_repo.hpp), read-only
};

AgentAccess agent_access(const AgentConfig& agent, ConfineMode mode, const AccessInputs& inputs);

// Makes the agent's home (seeded from `home_state` entries of the user's home the first time)
// and its temporary directory; as the user.
Status prepare_agent_home(const std::string& agent_home, const std::string& user_home,
                          const std::vector<std::string>& home_state);
Status make_private_dir(const std::string& path);

// The config's `read`, `write` and `workdir` paths, once the home and the runs tree are known
// (the work directory is written, so it is held to the same rules): each must
// be absolute (or ~/...), exist, and not grant the runs tree, the agents' homes, the user's
// home or a dotfile in it. An Error (invalid input) names the key.
Status check_access_paths(const Config& config, const std::string& user_home,
                          const std::string& runs_dir);

// A repository's directories: those its agents read (agent_repo.hpp RepoSource::objects),
// held to the `read` rules above; and its own (the origin, its git and common dirs), which no
// agent of the config may write (`write`, `workdir`: the same directory, within or above it),
// since dispatch runs git there unconfined. An Error (invalid input) names the repository and
// the agent.
Status check_repo_paths(const std::string& origin, const std::vector<std::string>& read,
                        const std::vector<std::string>& repository, const Config& config,
                        const std::string& user_home, const std::string& runs_dir);

// The TCP port of an http(s) URL: its explicit port, else 80 or 443; 0 when none can be read.
uint16_t url_port(const std::string& url);

} // namespace fleet
