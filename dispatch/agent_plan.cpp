#include "dispatch/agent_plan.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

#include "dispatch/agent_access.hpp"
#include "dispatch/agents/agent_cli.hpp"
#include "dispatch/placeholders.hpp"
#include "launch/environment.hpp"
#include "runner/agent_repo.hpp"
#include "sys/exec.hpp"

extern char** environ; // NOLINT(readability-redundant-declaration)

namespace fleet {

namespace {

long long elapsed_ms(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 since)
        .count();
}

// The directories an agent writes (dispatch/agent_access.hpp): its work directory (a fresh
// work-<agent> unless configured; with a repository, its clone), its own home and its temporary
// directory. A problem is the plan's launch error.
void make_agent_dirs(const AgentConfig& agent, const RunDir& run, const Session& session,
                     const std::string& home, const RunRequest& request, AgentPlan& plan,
                     spdlog::logger& log) {
    if (agent.workdir.empty() || plan.repo != nullptr) {
        const std::string name = "work-" + agent.name;
        if (::mkdirat(run.dir.get(), name.c_str(), 0700) != 0) {
            plan.launch_error = "create " + name + ": " + std::strerror(errno);
        }
        plan.workdir = run.path + "/" + name;
        if (plan.repo != nullptr && plan.launch_error.empty()) {
            const auto began = std::chrono::steady_clock::now();
            if (Status cloned = clone_repo(*plan.repo, plan.workdir, plan.branch, request.artifact);
                !cloned) {
                plan.launch_error = "clone " + plan.repo->origin + ": " + cloned.error().message;
            } else {
                log.info("agent {}: clone of {} at {} made in {} ms", agent.name, plan.repo->origin,
                         plan.repo->base, elapsed_ms(began));
            }
        }
    } else {
        plan.workdir = agent.workdir;
        struct stat info {};
        if (::stat(agent.workdir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
            plan.launch_error = "workdir " + agent.workdir + " is not a directory";
        }
    }
    const AgentCli* cli = agent.builtin ? find_agent_cli(agent.name) : nullptr;
    plan.scratch = run.path + "/tmp-" + agent.name;
    for (const Status& made :
         {prepare_agent_home(home, session.identity.home,
                             cli != nullptr ? cli->home_state : std::vector<std::string>{}),
          make_private_dir(plan.scratch)}) {
        if (!made && plan.launch_error.empty()) {
            plan.launch_error = made.error().message;
        }
    }
}

} // namespace

AgentPlan plan_agent(const AgentConfig& agent, const RunDir& run, const Session& session,
                     const RunRequest& request, const RepoSource* repo, spdlog::logger& log) {
    AgentPlan plan;
    plan.name = agent.name;
    plan.timeout = agent.timeout;
    plan.artifact = request.artifact;
    if (repo != nullptr) {
        plan.repo = repo;
        plan.branch = agent_branch(run.id, agent.name);
        plan.prompt_line = request.prompt_line;
    }
    const std::string home = agent_homes_dir(session.identity.home) + "/" + agent.name;
    make_agent_dirs(agent, run, session, home, request, plan, log);
    const std::string path = agent_path(session.config, session.identity.home);
    const std::string prompt_file = run.path + "/prompt.txt";
    const AgentCli* cli = agent.builtin ? find_agent_cli(agent.name) : nullptr;
    EnvironmentRequest env_request;
    env_request.set.emplace_back("PATH", path);
    env_request.set.emplace_back("HOME", home);
    env_request.set.emplace_back("TMPDIR", plan.scratch);
    std::string program;
    if (cli != nullptr) {
        const AgentCommand command = agent_command(*cli, agent.model, agent.base_url, agent.args,
                                                   request.prompt, prompt_file);
        program = agent.binary.empty() ? agent.name : agent.binary;
        plan.args = command.args;
        plan.stdin_prompt = command.stdin_prompt;
        env_request.set.insert(env_request.set.end(), command.env.begin(), command.env.end());
        plan.judge = cli->read_outcome;
        if (cli->prepare_home != nullptr) {
            // As the user (the drop is done), in the agent's own home.
            if (const std::string problem = cli->prepare_home(home, agent.base_url);
                !problem.empty()) {
                log.warn("agent {}: {}", agent.name, problem);
            }
        }
    } else {
        const std::map<std::string, std::string> values = {
            {"prompt", request.prompt}, {"prompt_file", prompt_file}, {"run_id", run.id},
            {"run_dir", run.path},      {"workdir", plan.workdir},    {"task", request.task},
            {"agent", agent.name}};
        program = agent.command[0];
        for (size_t i = 1; i < agent.command.size(); ++i) {
            Result<std::string> arg = expand_placeholders(agent.command[i], values);
            plan.args.push_back(arg ? *arg : std::string());
        }
        plan.stdin_prompt = agent.stdin_prompt;
    }
    // Later entries win: the agent's env over the adapter's, secrets over both, markers last.
    env_request.set.insert(env_request.set.end(), agent.env.begin(), agent.env.end());
    env_request.set.insert(env_request.set.end(), agent.secret_env.begin(), agent.secret_env.end());
    env_request.set.emplace_back("FLEET_DISPATCH_RUN_ID", run.id);
    env_request.set.emplace_back("FLEET_DISPATCH_AGENT", agent.name);
    env_request.set.emplace_back("FLEET_DISPATCH_RUN_DIR", run.path);
    Result<std::vector<std::string>> env =
        build_environment(session.identity, environ, env_request);
    if (env) {
        plan.env = std::move(*env);
    } else if (plan.launch_error.empty()) {
        plan.launch_error = env.error().message;
    }

    plan.executable = resolve_program(program, path);
    if (plan.executable.empty() && plan.launch_error.empty()) {
        plan.launch_error = program + ": not found in PATH " + path;
        if (request.unified) {
            plan.launch_error_state = AgentState::skipped;
        }
    }
    plan.access = agent_access(agent, confine_mode(session.config, agent),
                               {session.identity.home, session.runs_dir, run.path, plan.workdir,
                                home, plan.scratch, plan.executable, path,
                                repo != nullptr ? repo->objects : std::vector<std::string>{}});
    return plan;
}

std::string agent_path(const Config& config, const std::string& home) {
    std::vector<std::string> dirs;
    for (const std::string& dir : config.path) {
        dirs.push_back(dir.rfind("~/", 0) == 0 ? home + dir.substr(1) : dir);
    }
    for (const std::string& dir : {home + "/.local/bin", home + "/.npm-global/bin",
                                   std::string("/usr/local/bin"), std::string("/snap/bin")}) {
        dirs.push_back(dir);
    }
    for (const std::string& dir : path_entries(default_path(home))) {
        dirs.push_back(dir);
    }
    std::string path;
    std::vector<std::string> seen;
    for (const std::string& dir : dirs) {
        if (std::find(seen.begin(), seen.end(), dir) == seen.end()) {
            seen.push_back(dir);
            path += (path.empty() ? "" : ":") + dir;
        }
    }
    return path;
}

std::string resolve_program(const std::string& program, const std::string& path) {
    if (program.find('/') == std::string::npos) {
        return find_in_path(program, path);
    }
    struct stat info {};
    if (::stat(program.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
        ::access(program.c_str(), X_OK) == 0) {
        return program;
    }
    return "";
}

} // namespace fleet
