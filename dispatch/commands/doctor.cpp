#include "dispatch/commands/doctor.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/probe.hpp"
#include "base/untrusted_text.hpp"
#include "dispatch/agent_access.hpp"
#include "dispatch/agents/agent_cli.hpp"
#include "dispatch/commands/doctor_host.hpp"
#include "dispatch/commands/info.hpp"
#include "dispatch/commands/run.hpp"
#include "dispatch/config.hpp"
#include "dispatch/env_file.hpp"
#include "dispatch/runner_process.hpp"
#include "launch/environment.hpp"
#include "launch/identity.hpp"
#include "runner/status.hpp"
#include "runner/supervisor.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"
#include "sys/landlock.hpp"

extern char** environ; // NOLINT(readability-redundant-declaration)

namespace fleet {

namespace {

constexpr int k_max_depth = 64;

// Opens an absolute directory path one component at a time with O_NOFOLLOW: no symlink
// anywhere in it is followed.
Fd open_dir_nofollow(const std::string& path) {
    Fd dir(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    size_t start = 1;
    while (dir.valid() && start < path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos) {
            end = path.size();
        }
        const std::string name = path.substr(start, end - start);
        start = end + 1;
        if (name.empty()) {
            continue;
        }
        dir =
            Fd(::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    }
    return dir;
}

// Entries below a tree's top (and the top itself) that do not belong to `uid`; with `fix`,
// chowned to uid:gid. Root walks a tree the user owns, so every step is pinned to an fd:
//   openat(dir, name, O_PATH|O_NOFOLLOW)   the entry itself, a symlink included, never its target
//   fstat(fd)                              what the fd is, not what the name may be by now
//   nlink > 1 and not a directory          never chowned: the other name may be root's file
//                                          (/etc/shadow hard-linked in; protected_hardlinks=0)
//   fchownat(fd, "", AT_EMPTY_PATH)        the chown lands on the inode that was checked
//   openat(fd, ".", O_DIRECTORY)           a directory is listed through the fd that was checked
struct Ownership {
    uid_t uid;
    gid_t gid;
    bool fix;
    std::vector<std::string> foreign;
    std::vector<std::string> errors;
};

void check_entry(int parent, const std::string& name, const std::string& shown, Ownership& own,
                 int depth);

void walk(int dir, const std::string& shown, Ownership& own, int depth) {
    if (depth > k_max_depth) {
        return;
    }
    DIR* listing = ::fdopendir(::dup(dir));
    if (listing == nullptr) {
        own.errors.push_back("cannot list " + shown + ": " + std::strerror(errno));
        return;
    }
    std::vector<std::string> names;
    while (const dirent* entry = ::readdir(listing)) {
        const std::string name = entry->d_name;
        if (name != "." && name != "..") {
            names.push_back(name);
        }
    }
    ::closedir(listing);
    for (const std::string& name : names) {
        check_entry(dir, name, shown + "/" + name, own, depth + 1);
    }
}

void check_entry(int parent, const std::string& name, const std::string& shown, Ownership& own,
                 int depth) {
    const Fd entry(::openat(parent, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat info {};
    if (!entry.valid() || ::fstat(entry.get(), &info) != 0) {
        return; // gone meanwhile: nothing to check
    }
    if (info.st_uid != own.uid) {
        own.foreign.push_back(shown);
        if (!S_ISDIR(info.st_mode) && info.st_nlink > 1) {
            own.errors.push_back(shown + " has " + std::to_string(info.st_nlink) +
                                 " hard links, so its other name may be another owner's file: "
                                 "not chowned");
        } else if (own.fix && ::fchownat(entry.get(), "", own.uid, own.gid, AT_EMPTY_PATH) != 0) {
            own.errors.push_back("could not chown " + shown + ": " + std::strerror(errno));
        }
    }
    if (S_ISDIR(info.st_mode)) {
        const Fd dir(::openat(entry.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (dir.valid()) {
            walk(dir.get(), shown, own, depth);
        }
    }
}

// The top of a tree: the directory (or file) itself, then what is below it.
void check_tree(const std::string& path, Ownership& own) {
    const std::string parent = path.substr(0, path.rfind('/'));
    const std::string name = path.substr(path.rfind('/') + 1);
    const Fd parent_dir = open_dir_nofollow(parent.empty() ? "/" : parent);
    if (parent_dir.valid()) {
        check_entry(parent_dir.get(), name, path, own, 0);
    }
}

void check_ownership(const Config& config, const Identity& user, bool fix, Report& report) {
    const std::string runs =
        config.runs_dir.empty() ? user.home + "/.local/state/fleet-dispatch/runs" : config.runs_dir;
    std::vector<std::string> trees = {runs, agent_homes_dir(user.home)};
    std::vector<std::string> prefixes;
    for (const AgentCli& cli : agent_clis()) {
        for (const std::string& name : cli.home_state) {
            if (name.ends_with('*')) {
                prefixes.push_back(name.substr(0, name.size() - 1));
            } else {
                trees.push_back(user.home + "/" + name);
            }
        }
    }
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(user.home, error)) {
        const std::string name = entry.path().filename().string();
        for (const std::string& prefix : prefixes) {
            if (name.starts_with(prefix)) {
                trees.push_back(entry.path().string());
            }
        }
    }
    Ownership own{user.uid, user.gid, fix, {}, {}};
    for (const std::string& tree : trees) {
        check_tree(tree, own);
    }
    if (own.foreign.empty()) {
        report.add(Level::ok, "ownership",
                   "everything in " + runs +
                       ", the agents' homes and their config "
                       "directories belongs to " +
                       user.name);
        return;
    }
    const std::string first =
        own.foreign.front() +
        (own.foreign.size() > 1 ? " and " + std::to_string(own.foreign.size() - 1) + " more" : "");
    if (fix && own.errors.empty()) {
        report.add(Level::ok, "ownership", "chowned to " + user.name + ": " + first);
    } else if (!own.errors.empty()) {
        report.add(Level::fail, "ownership", own.errors.front(),
                   "see what it is and remove it or chown it by hand");
    } else {
        report.add(Level::fail, "ownership", "not owned by " + user.name + ": " + first,
                   "dispatch doctor --fix");
    }
}

void check_sudo(const Config& config, const Identity& user, Report& report) {
    Result<ProbeResult> answer =
        probe_output({"sudo", "-n", "-l", "-U", user.name}, {k_system_path}, k_probe_timeout);
    if (!answer) {
        report.add(Level::ok, "sudo", "sudo not usable here (" + answer.error().message + ")");
        return;
    }
    const std::string& out = answer->output;
    const bool reaches_root =
        out.find("(ALL") != std::string::npos || out.find("(root") != std::string::npos;
    if (!reaches_root) {
        report.add(Level::ok, "sudo", user.name + " has no sudo rights that reach root");
    } else if (config.no_new_privs) {
        report.add(Level::ok, "sudo",
                   user.name + " may sudo to root, which no_new_privs blocks for agents");
    } else {
        report.add(Level::warn, "sudo",
                   user.name + " may sudo to root" +
                       (out.find("NOPASSWD") != std::string::npos ? " without a password" : "") +
                       " and no_new_privs is off: agents can become root",
                   "set no_new_privs = true, or narrow the sudoers rule to fleet-helper");
    }
}

void check_groups(const Config& config, const Identity& user, Report& report) {
    std::vector<std::string> risky;
    for (const gid_t gid : user.groups) {
        const group* entry = ::getgrgid(gid);
        if (entry == nullptr) {
            continue;
        }
        const std::string name = entry->gr_name;
        const bool always = name == "lxd" || name == "docker";
        const bool without_nnp =
            name == "sudo" || name == "adm" || name == "admin" || name == "wheel";
        if (always || (without_nnp && !config.no_new_privs)) {
            risky.push_back(name);
        }
    }
    if (risky.empty()) {
        report.add(Level::ok, "groups", user.name + " is in no group that reaches root");
        return;
    }
    std::string names;
    for (const std::string& name : risky) {
        names += (names.empty() ? "" : ", ") + name;
    }
    report.add(Level::warn, "groups",
               user.name + " is in " + names +
                   " (lxd and docker reach root even with no_new_privs)",
               "remove the user from them (gpasswd -d " + user.name + " GROUP)");
}

// Each agent's --version, asked as the user (probe_agent drops the probe's child).
void check_agents(const Config& config, const Identity& user, Report& report) {
    for (const auto& [name, agent] : config.agents) {
        const AgentProbe probe = probe_agent(config, user, agent);
        if (probe.binary.empty()) {
            report.add(Level::warn, "agent " + name,
                       probe.program + " not found in the agents' PATH",
                       "install it, or set agents." + name +
                           (agent.builtin ? ".binary" : ".command") + " or path");
        } else if (probe.version) {
            report.add(Level::ok, "agent " + name, probe.binary + " (" + *probe.version + ")");
        } else {
            report.add(Level::warn, "agent " + name,
                       probe.binary + " does not answer --version: " + probe.version_error);
        }
    }
}

// Agents' pipes (and a pipe console) ask for k_pipe_size; above fs.pipe-max-size only
// CAP_SYS_RESOURCE may go, which the dropped runner has not.
void check_pipes(Report& report) {
    const Result<std::string> text = read_file_at(AT_FDCWD, "/proc/sys/fs/pipe-max-size", 64);
    if (!text) {
        report.add(Level::warn, "pipes", "cannot read fs.pipe-max-size: " + text.error().message);
        return;
    }
    const unsigned long max_size = std::strtoul(text->c_str(), nullptr, 10);
    const std::string wanted = std::to_string(k_pipe_size);
    if (max_size < k_pipe_size) {
        report.add(Level::warn, "pipes",
                   "fs.pipe-max-size is " + std::to_string(max_size) +
                       ": agent pipes stay smaller than " + wanted +
                       " bytes, bulk output is slower",
                   "sysctl -w fs.pipe-max-size=" + wanted + " (and in /etc/sysctl.d)");
        return;
    }
    report.add(Level::ok, "pipes",
               "agent pipes of " + wanted + " bytes (fs.pipe-max-size " + std::to_string(max_size) +
                   ")");
}

// What the kernel offers the agents' confinement (docs/dispatch.md, "What an agent can and
// cannot do"): the Landlock ABI, the run's PID namespace, and what the config asks for.
void check_confinement(const Config& config, bool as_root, Report& report) {
    const int abi = landlock_abi();
    const Confinement reached = assess_confinement(AgentAccess{}, abi);
    bool required = config.confine == ConfineMode::required;
    std::vector<std::string> off;
    for (const auto& [name, agent] : config.agents) {
        required = required || confine_mode(config, agent) == ConfineMode::required;
        if (confine_mode(config, agent) == ConfineMode::off) {
            off.push_back(name);
        }
    }
    const Level short_of = required ? Level::fail : Level::warn;
    if (reached.level == ConfinementLevel::full) {
        report.add(Level::ok, "landlock", "ABI " + std::to_string(abi) + ": agents fully confined");
    } else {
        report.add(short_of, "landlock",
                   (abi == 0 ? std::string("none") : "ABI " + std::to_string(abi)) + ": " +
                       reached.lacking,
                   required ? "a kernel with Landlock ABI 6 (6.12), or confine = \"auto\""
                            : "a kernel with Landlock ABI 6 (6.12) for full confinement");
    }
    const std::string no_namespace = as_root ? probe_run_namespace() : "not root";
    if (no_namespace.empty()) {
        report.add(Level::ok, "pid namespace",
                   "each run gets its own; none of its processes "
                   "outlives it");
    } else {
        report.add(short_of, "pid namespace", "cannot be made: " + no_namespace,
                   "run dispatch as root, on a host or container that allows namespaces");
    }
    // fleet-helper's socket (guard/helper/socket.hpp k_helper_socket): the confined agents'
    // road to it, since no_new_privs rules out sudo.
    struct stat helper {};
    if (::stat("/run/fleet-dispatch/helper.sock", &helper) == 0 && S_ISSOCK(helper.st_mode)) {
        report.add(Level::ok, "helper socket",
                   "/run/fleet-dispatch/helper.sock: confined agents "
                   "reach fleet-helper");
    } else if (::stat("/etc/fleet-dispatch/helper.toml", &helper) == 0) {
        report.add(Level::warn, "helper socket",
                   "fleet-helper is set up but /run/fleet-dispatch/helper.sock is not: confined "
                   "agents cannot reach it",
                   "fleet-dispatch-setup --with-helper (or systemctl enable --now "
                   "fleet-helper.socket)");
    }
    if (!off.empty()) {
        std::string names;
        for (const std::string& name : off) {
            names += (names.empty() ? "" : ", ") + name;
        }
        report.add(Level::warn, "confine", "off for " + names + ": they run unconfined",
                   "remove confine = \"off\"");
    }
}

} // namespace

int run_doctor(const CommandLine& line) {
    const DoctorArgs& args = std::get<DoctorArgs>(line.args);
    Report report(args.json ? ReportFormat::json : ReportFormat::text);
    const bool as_root = ::geteuid() == 0;
    if (!as_root) {
        report.add(Level::warn, "root",
                   "not root: ownership fixes and sudo rights are not checked");
    }
    Result<Config> config = load_config(line.config_path, as_root);
    if (!config) {
        report.add(Level::fail, "config", config.error().message, "correct it and run again");
        return report.finish();
    }
    report.add(Level::ok, "config", config->source);
    for (const auto& [name, agent] : config->agents) {
        if (!agent.env_file.empty()) {
            Result<EnvPairs> secrets = read_env_file(agent.env_file, as_root);
            report.add(secrets ? Level::ok : Level::fail, "env_file " + name,
                       secrets ? agent.env_file : secrets.error().message);
        }
    }
    check_pipes(report);
    check_confinement(*config, as_root, report);
    check_limits(*config, as_root, report);
    const std::string target = line.user.empty() ? config->user : line.user;
    Result<Identity> user = as_root ? resolve_identity(target, {}) : current_identity();
    if (!user) {
        report.add(Level::fail, "user", user.error().message,
                   "create it (useradd -m " + target + ") or set user in the config");
        return report.finish();
    }
    report.add(Level::ok, "user", user->name + " (uid " + std::to_string(user->uid) + ")");
    check_ownership(*config, *user, args.fix && as_root, report);
    if (as_root) {
        check_sudo(*config, *user, report);
    }
    check_groups(*config, *user, report);
    check_agents(*config, *user, report);
    check_ssm_agent(*config, report);
    return report.finish();
}

} // namespace fleet
