// What one agent of a run will run (an AgentPlan, supervisor.hpp): the built-in CLI's command
// (dispatch/agents) or a configured command with its placeholders filled in, the environment
// built from nothing (launch/environment.hpp: the adapter's, then the agent's env, then its
// secrets, then the run's markers FLEET_DISPATCH_RUN_ID, _AGENT, _RUN_DIR), the PATH, the
// program resolved, and its work directory (work-<agent> in the run directory unless configured;
// with a repository, its clone there).
// Made after the privilege drop: whatever it creates (work-<agent>, a CLI's settings in the
// home) is the user's. A problem becomes the plan's launch_error, reported when the agent would
// start, so the other agents still run.
#pragma once

#include <string>

#include <spdlog/logger.h>

#include "dispatch/config.hpp"
#include "dispatch/session.hpp"
#include "runner/run_store.hpp"
#include "runner/supervisor.hpp"

namespace fleet {

// What the agents of one run share.
struct RunRequest {
    std::string task;
    std::string prompt;      // after the task's template
    std::string artifact;    // the task's artifact, if any
    bool unified = false;    // a missing binary is "skipped", not "spawn_failed"
    std::string prompt_line; // the first line of what was given, for commit messages
};

// `repo`: the agent's repository (runner/agent_repo.hpp), or nullptr; its clone, made here,
// becomes its work directory.
AgentPlan plan_agent(const AgentConfig& agent, const RunDir& run, const Session& session,
                     const RunRequest& request, const RepoSource* repo, spdlog::logger& log);

// The agents' PATH: config `path` ("~/" is `home`), then where npm, pipx and snaps put CLIs
// (~/.local/bin, ~/.npm-global/bin, /usr/local/bin, /snap/bin), then the launcher's default.
std::string agent_path(const Config& config, const std::string& home);

// An absolute program if it is executable, a name looked up in `path`; empty if neither.
std::string resolve_program(const std::string& program, const std::string& path);

} // namespace fleet
