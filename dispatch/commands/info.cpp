#include "dispatch/commands/info.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <unistd.h>

#include "base/probe.hpp"
#include "base/toml_check.hpp"
#include "base/untrusted_text.hpp"
#include "dispatch/agent_plan.hpp"
#include "dispatch/commands/run.hpp"
#include "dispatch/run_limits.hpp"
#include "launch/environment.hpp"
#include "sys/io.hpp"

extern char** environ; // NOLINT(readability-redundant-declaration)

namespace fleet {

namespace {

constexpr std::chrono::milliseconds k_version_timeout{5000};

std::string quoted_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) {
        out += (i == 0 ? "" : ", ") + toml_quote(items[i]);
    }
    return out + "]";
}

bool looks_secret(std::string name) {
    std::transform(name.begin(), name.end(), name.begin(), ::toupper);
    for (const char* word : {"KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"}) {
        if (name.find(word) != std::string::npos) {
            return true;
        }
    }
    return false;
}

} // namespace

AgentProbe probe_agent(const Config& config, const Identity& user, const AgentConfig& agent) {
    AgentProbe probe;
    probe.program =
        agent.builtin ? (agent.binary.empty() ? agent.name : agent.binary) : agent.command[0];
    const std::string path = agent_path(config, user.home);
    probe.binary = resolve_program(probe.program, path);
    if (probe.binary.empty()) {
        return probe;
    }
    EnvironmentRequest request;
    request.set.emplace_back("PATH", path);
    Result<std::vector<std::string>> env = build_environment(user, environ, request);
    if (!env) {
        probe.version_error = env.error().message;
        return probe;
    }
    ProbeLimits limits;
    limits.timeout = k_version_timeout;
    limits.workdir = user.home;
    limits.as_user = ::geteuid() == 0 ? &user : nullptr;
    Result<std::string> version = probe_first_line({probe.binary, "--version"}, *env, limits);
    if (version) {
        probe.version = *version;
    } else {
        probe.version_error = version.error().message;
    }
    return probe;
}

int list_agents(const Session& session) {
    std::string out;
    char line[1024];
    std::snprintf(line, sizeof line, "%-12s %-8s %-8s %-40s %s\n", "AGENT", "KIND", "ENABLED",
                  "BINARY", "VERSION");
    out += line;
    for (const auto& [name, agent] : session.config.agents) {
        const AgentProbe probe = probe_agent(session.config, session.identity, agent);
        const std::string version = probe.binary.empty() ? "-"
                                    : probe.version      ? *probe.version
                                                         : "(" + probe.version_error + ")";
        std::snprintf(line, sizeof line, "%-12s %-8s %-8s %-40s %s\n", name.c_str(),
                      agent.builtin ? "built-in" : "command", probe.binary.empty() ? "no" : "yes",
                      probe.binary.empty() ? (probe.program + " not found").c_str()
                                           : probe.binary.c_str(),
                      escape_untrusted(version).c_str());
        out += line;
    }
    write_all(1, out);
    return k_exit_ok;
}

namespace {

// memory_max (bytes, its size in a comment), pids_max, cpu_max: what is set of `limits`.
std::string limits_toml(const Limits& limits) {
    std::string out;
    if (limits.memory_max) {
        out += "memory_max = " + std::to_string(*limits.memory_max) + " # " +
               format_bytes(*limits.memory_max) + "\n";
    }
    if (limits.pids_max) {
        out += "pids_max = " + std::to_string(*limits.pids_max) + "\n";
    }
    if (limits.cpu_max) {
        char cpus[32];
        std::snprintf(cpus, sizeof cpus, "%g", *limits.cpu_max);
        out += std::string("cpu_max = ") + cpus + "\n";
    }
    return out;
}

// One [agents.NAME] table of `dispatch config`, secrets redacted.
std::string agent_toml(const std::string& name, const AgentConfig& agent) {
    std::string out = "\n[agents." + name + "]\n";
    if (agent.builtin) {
        out += "# built-in adapter\n";
        if (!agent.binary.empty()) {
            out += "binary = " + toml_quote(agent.binary) + "\n";
        }
        if (!agent.args.empty()) {
            out += "args = " + quoted_list(agent.args) + "\n";
        }
        if (!agent.model.empty()) {
            out += "model = " + toml_quote(agent.model) + "\n";
        }
        if (!agent.base_url.empty()) {
            out += "base_url = " + toml_quote(agent.base_url) + "\n";
        }
    } else {
        out += "command = " + quoted_list(agent.command) + "\n";
        out += std::string("stdin = ") + (agent.stdin_prompt ? "\"prompt\"" : "\"null\"") + "\n";
    }
    if (!agent.env.empty() || !agent.secret_env.empty()) {
        std::string table;
        for (const auto& [key, value] : agent.env) {
            table += (table.empty() ? "" : ", ") + key + " = " +
                     (looks_secret(key) ? toml_quote("<redacted>") : toml_quote(value));
        }
        for (const auto& [key, value] : agent.secret_env) {
            table += (table.empty() ? "" : ", ") + key + " = " + toml_quote("<redacted>");
        }
        out += "env = { " + table + " }\n";
    }
    if (!agent.env_file.empty()) {
        out += "env_file = " + toml_quote(agent.env_file) + "\n";
    }
    if (agent.timeout.count() > 0) {
        out += "timeout = " + toml_quote(format_duration(agent.timeout)) + "\n";
    }
    for (const auto& [key, value] :
         {std::pair{"repo", &agent.repo}, std::pair{"ref", &agent.ref}}) {
        if (!value->empty()) {
            out += std::string(key) + " = " + toml_quote(*value) + "\n";
        }
    }
    if (!agent.workdir.empty()) {
        out += "workdir = " + toml_quote(agent.workdir) + "\n";
    }
    if (agent.confine) {
        out += "confine = " + toml_quote(to_string(*agent.confine)) + "\n";
    }
    for (const auto& [key, paths] :
         {std::pair{"read", &agent.read}, std::pair{"write", &agent.write}}) {
        if (!paths->empty()) {
            out += std::string(key) + " = " + quoted_list(*paths) + "\n";
        }
    }
    if (!agent.tcp_connect.empty()) {
        std::string ports;
        for (const uint16_t port : agent.tcp_connect) {
            ports += (ports.empty() ? "" : ", ") + std::to_string(port);
        }
        out += "tcp_connect = [" + ports + "]\n";
    }
    return out + limits_toml(agent.limits);
}

} // namespace

int show_config(const Session& session) {
    const Config& config = session.config;
    std::string out = "# effective configuration, from " + config.source + "\n";
    for (const std::string& drop_in : config.drop_ins) {
        out += "# merged over it: " + drop_in + "\n";
    }
    out += "user = " + toml_quote(config.user) + "\n";
    out += "runs_dir = " + toml_quote(session.runs_dir) + "\n";
    if (config.prune_older_than) { // unset: `dispatch prune` alone removes nothing
        out += "prune_older_than = " + toml_quote(format_duration(*config.prune_older_than)) + "\n";
    }
    out += "default_agent = " + toml_quote(config.default_agent) + "\n";
    out += "max_parallel = " + std::to_string(config.max_parallel) + "\n";
    out += "timeout = " + toml_quote(format_duration(config.timeout)) + "\n";
    out += "grace = " + toml_quote(format_duration(config.grace)) + "\n";
    out += std::string("no_new_privs = ") + (config.no_new_privs ? "true" : "false") + "\n";
    out += "confine = " + toml_quote(to_string(config.confine)) + "\n";
    out += "limits = " + toml_quote(to_string(config.limits)) + "\n";
    // The run's limits as they are in force: the defaults filled in.
    out += limits_toml(plan_limits(config, {}, mem_total()).run);
    out += "oom_score_adj = " + std::to_string(config.oom_score_adj) + "\n";
    out += "run_events = " + toml_quote(to_string(config.run_events)) + "\n";
    if (!config.metrics_file.empty()) { // unset: no metrics file
        out += "metrics_file = " + toml_quote(config.metrics_file) + "\n";
    }
    out += "unified = " + quoted_list(config.unified) + "\n";
    out += "path = " + quoted_list(config.path) + "\n";
    for (const auto& [name, agent] : config.agents) {
        out += agent_toml(name, agent);
    }
    for (const auto& [name, task] : config.tasks) {
        out += "\n[tasks." + name + "]\ntemplate = " + toml_quote(task.template_text) + "\n";
        if (!task.artifact.empty()) {
            out += "artifact = " + toml_quote(task.artifact) + "\n";
        }
    }
    write_all(1, out);
    return k_exit_ok;
}

} // namespace fleet
