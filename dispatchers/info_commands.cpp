#include "info_commands.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <unistd.h>

#include "environment.hpp"
#include "io.hpp"
#include "probe.hpp"
#include "run_command.hpp"
#include "untrusted_text.hpp"

extern char** environ; // NOLINT(readability-redundant-declaration)

namespace fleet {

namespace {

constexpr std::chrono::milliseconds k_version_timeout{5000};

// A TOML basic string.
std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char escape[8];
            std::snprintf(escape, sizeof escape, "\\u%04x", c);
            out += escape;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string quoted_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) {
        out += (i == 0 ? "" : ", ") + quoted(items[i]);
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

int show_config(const Session& session) {
    const Config& config = session.config;
    std::string out = "# effective configuration, from " + config.source + "\n";
    out += "user = " + quoted(config.user) + "\n";
    out += "runs_dir = " + quoted(session.runs_dir) + "\n";
    out += "default_agent = " + quoted(config.default_agent) + "\n";
    out += "max_parallel = " + std::to_string(config.max_parallel) + "\n";
    out += "timeout = " + quoted(format_duration(config.timeout)) + "\n";
    out += "grace = " + quoted(format_duration(config.grace)) + "\n";
    out += std::string("no_new_privs = ") + (config.no_new_privs ? "true" : "false") + "\n";
    out += "unified = " + quoted_list(config.unified) + "\n";
    out += "path = " + quoted_list(config.path) + "\n";
    for (const auto& [name, agent] : config.agents) {
        out += "\n[agents." + name + "]\n";
        if (agent.builtin) {
            out += "# built-in adapter\n";
            if (!agent.binary.empty()) {
                out += "binary = " + quoted(agent.binary) + "\n";
            }
            if (!agent.args.empty()) {
                out += "args = " + quoted_list(agent.args) + "\n";
            }
            if (!agent.model.empty()) {
                out += "model = " + quoted(agent.model) + "\n";
            }
            if (!agent.base_url.empty()) {
                out += "base_url = " + quoted(agent.base_url) + "\n";
            }
        } else {
            out += "command = " + quoted_list(agent.command) + "\n";
            out +=
                std::string("stdin = ") + (agent.stdin_prompt ? "\"prompt\"" : "\"null\"") + "\n";
        }
        if (!agent.env.empty() || !agent.secret_env.empty()) {
            std::string table;
            for (const auto& [key, value] : agent.env) {
                table += (table.empty() ? "" : ", ") + key + " = " +
                         (looks_secret(key) ? quoted("<redacted>") : quoted(value));
            }
            for (const auto& [key, value] : agent.secret_env) {
                table += (table.empty() ? "" : ", ") + key + " = " + quoted("<redacted>");
            }
            out += "env = { " + table + " }\n";
        }
        if (!agent.env_file.empty()) {
            out += "env_file = " + quoted(agent.env_file) + "\n";
        }
        if (agent.timeout.count() > 0) {
            out += "timeout = " + quoted(format_duration(agent.timeout)) + "\n";
        }
        if (!agent.workdir.empty()) {
            out += "workdir = " + quoted(agent.workdir) + "\n";
        }
    }
    for (const auto& [name, task] : config.tasks) {
        out += "\n[tasks." + name + "]\ntemplate = " + quoted(task.template_text) + "\n";
        if (!task.artifact.empty()) {
            out += "artifact = " + quoted(task.artifact) + "\n";
        }
    }
    write_all(1, out);
    return k_exit_ok;
}

} // namespace fleet
