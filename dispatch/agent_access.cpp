#include "dispatch/agent_access.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/exec.hpp"
#include "sys/fd.hpp"

namespace fleet {

namespace {

namespace fs = std::filesystem;

// Read and execute, where present. /lib64 and the like are symlinks into /usr on merged-/usr
// systems: a rule holds the inode, so either spelling works.
const std::vector<std::string>& system_paths() {
    static const std::vector<std::string> paths = {"/usr",   "/bin",    "/sbin", "/lib", "/lib32",
                                                   "/lib64", "/libx32", "/etc",  "/opt", "/proc",
                                                   "/sys",   "/dev",    "/run",  "/snap"};
    return paths;
}

const std::vector<std::string>& device_paths() {
    static const std::vector<std::string> paths = {"/dev/null", "/dev/zero", "/dev/full",
                                                   "/dev/tty",  "/dev/ptmx", "/dev/pts"};
    return paths;
}

std::string real_path(const std::string& path) {
    char resolved[PATH_MAX];
    return ::realpath(path.c_str(), resolved) != nullptr ? std::string(resolved) : std::string();
}

std::string normal(const std::string& path) {
    std::string text = fs::path(path).lexically_normal().string();
    while (text.size() > 1 && text.back() == '/') {
        text.pop_back();
    }
    return text;
}

// Whether `path` is `dir` or beneath it (both normal).
bool is_within(const std::string& path, const std::string& dir) {
    return path == dir || dir == "/" || path.rfind(dir + "/", 0) == 0;
}

// What no grant may reach: granting a directory grants everything beneath it, so no location
// may be the user's home or above it, nor be in the runs tree or the agents' homes or above them.
struct Protected {
    std::string home;
    std::vector<std::string> inner; // the runs tree, the agents' homes

    bool reached_by(const std::string& location) const {
        return is_within(home, location) ||
               std::any_of(inner.begin(), inner.end(), [&](const std::string& tree) {
                   return is_within(tree, location) || is_within(location, tree);
               });
    }
};

Protected protected_trees(const std::string& user_home, const std::string& runs_dir) {
    const auto resolved = [](const std::string& path) {
        const std::string real = real_path(path);
        return normal(real.empty() ? path : real);
    };
    return {resolved(user_home), {resolved(runs_dir), resolved(agent_homes_dir(user_home))}};
}

// A regular file's resolved path; "" for anything else (a #! line may name a directory).
std::string real_file(const std::string& path) {
    const std::string real = real_path(path);
    struct stat info {};
    return !real.empty() && ::stat(real.c_str(), &info) == 0 && S_ISREG(info.st_mode) ? real : "";
}

// Where the program at `real` (a regular file) is installed: the node_modules tree it sits in
// (an npm package reads its dependencies beside it, flat in that tree); else, for a program in
// a bin/ directory, the prefix above it (a pipx or virtualenv's lib/, nvm's node); else its
// directory. A location that would reach a protected tree gives way to the next narrower one,
// down to the file alone. Beneath the home, a location in its dotfile directories
// (~/.npm-global) is accepted: it is derived from the program actually run.
std::string install_location(const std::string& real, const Protected& protect) {
    const fs::path dir = fs::path(real).parent_path();
    std::vector<std::string> candidates;
    if (const size_t modules = real.find("/node_modules/"); modules != std::string::npos) {
        candidates.push_back(real.substr(0, modules + std::strlen("/node_modules")));
    }
    if (dir.filename() == "bin") {
        candidates.push_back(dir.parent_path().string());
    }
    candidates.push_back(dir.string());
    for (const std::string& location : candidates) {
        if (!protect.reached_by(normal(location))) {
            return location;
        }
    }
    return real;
}

// The interpreter a #! line names, resolved: a regular file, or "" ("#!/usr/bin/env node"
// looks a plain name up in `path`; only the system's env counts as env, and a name with a '/'
// is not looked up).
std::string interpreter_of(const std::string& real, const std::string& path) {
    const Fd fd(::open(real.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    char head[256] = {};
    const ssize_t n = fd.valid() ? ::read(fd.get(), head, sizeof head - 1) : -1;
    if (n < 2 || head[0] != '#' || head[1] != '!') {
        return "";
    }
    std::string line(head + 2, static_cast<size_t>(n) - 2);
    line = line.substr(0, line.find('\n'));
    std::vector<std::string> words;
    for (size_t at = 0; at < line.size();) {
        const size_t start = line.find_first_not_of(" \t", at);
        if (start == std::string::npos) {
            break;
        }
        const size_t end = std::min(line.find_first_of(" \t", start), line.size());
        words.push_back(line.substr(start, end - start));
        at = end;
    }
    if (words.empty()) {
        return "";
    }
    std::string interpreter = real_file(words[0]);
    if (interpreter != "/usr/bin/env" && interpreter != "/bin/env") {
        return interpreter;
    }
    for (size_t i = 1; i < words.size(); ++i) {
        if (words[i][0] != '-' && words[i].find('=') == std::string::npos) {
            if (words[i].find('/') != std::string::npos) {
                return "";
            }
            const std::string found = find_in_path(words[i], path);
            return found.empty() ? "" : real_file(found);
        }
    }
    return "";
}

bool is_system(const std::string& real) {
    return std::any_of(system_paths().begin(), system_paths().end(),
                       [&](const std::string& dir) { return is_within(real, dir); });
}

std::string expand_home(const std::string& path, const std::string& user_home) {
    return path.rfind("~/", 0) == 0 ? user_home + path.substr(1) : path;
}

void add_unique(std::vector<std::string>& paths, const std::string& path) {
    if (!path.empty() && std::find(paths.begin(), paths.end(), path) == paths.end()) {
        paths.push_back(path);
    }
}

// Why `path` (a config `read` or `write` entry, expanded) cannot be granted; "" if it can.
std::string access_problem(const std::string& path, const Protected& protect) {
    if (path.empty() || path[0] != '/') {
        return "'" + path + "' must be an absolute path or start with ~/";
    }
    const std::string real = real_path(path);
    if (real.empty()) {
        return "'" + path + "': " + std::strerror(errno);
    }
    const std::string& home = protect.home;
    for (const std::string& form : {normal(path), normal(real)}) {
        if (is_within(home, form)) {
            return "'" + path + "' would grant the user's home and its dotfiles";
        }
        if (protect.reached_by(form)) {
            return "'" + path + "' would grant the runs tree or the agents' homes";
        }
        if (is_within(form, home) && form[home.size() + 1] == '.') {
            return "'" + path + "' is in a dotfile of the user's home";
        }
    }
    return "";
}

} // namespace

std::string agent_homes_dir(const std::string& user_home) {
    return user_home + "/.local/state/fleet-dispatch/agents";
}

AgentAccess agent_access(const AgentConfig& agent, ConfineMode mode, const AccessInputs& inputs) {
    AgentAccess access;
    access.mode = mode;
    access.system = system_paths();
    access.devices = device_paths();
    const Protected protect = protected_trees(inputs.user_home, inputs.runs_dir);
    if (!inputs.executable.empty()) {
        const std::string program_file = real_file(inputs.executable);
        for (const std::string& program :
             {program_file,
              program_file.empty() ? std::string() : interpreter_of(program_file, inputs.path)}) {
            if (!program.empty() && !is_system(program)) {
                add_unique(access.read, install_location(program, protect));
            }
        }
    }
    add_unique(access.read, inputs.run_dir + "/prompt.txt");
    for (const std::string& path : agent.read) {
        add_unique(access.read, expand_home(path, inputs.user_home));
    }
    for (const std::string& path : inputs.repo_read) {
        add_unique(access.read, path);
    }
    for (const std::string& path : {inputs.workdir, inputs.agent_home, inputs.tmpdir}) {
        add_unique(access.write, path);
    }
    for (const std::string& path : agent.write) {
        add_unique(access.write, expand_home(path, inputs.user_home));
    }
    access.tcp_connect = agent.tcp_connect;
    if (!access.tcp_connect.empty() && !agent.base_url.empty()) {
        if (const uint16_t port = url_port(agent.base_url);
            port != 0 && std::find(access.tcp_connect.begin(), access.tcp_connect.end(), port) ==
                             access.tcp_connect.end()) {
            access.tcp_connect.push_back(port);
        }
    }
    return access;
}

Status make_private_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
        return system_error("create " + path, errno);
    }
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
        return Error{ErrorKind::system, path + " is not a directory"};
    }
    return Ok{};
}

Status prepare_agent_home(const std::string& agent_home, const std::string& user_home,
                          const std::vector<std::string>& home_state) {
    std::error_code ec;
    fs::create_directories(agent_homes_dir(user_home), ec);
    if (ec) {
        return Error{ErrorKind::system,
                     "create " + agent_homes_dir(user_home) + ": " + ec.message()};
    }
    // Seeded only by the run that made it (two first runs at once: one seeds, one waits for
    // nothing), and only a directory of the user's own, 0700, is used.
    const bool fresh = ::mkdir(agent_home.c_str(), 0700) == 0;
    if (!fresh && errno != EEXIST) {
        return system_error("create " + agent_home, errno);
    }
    struct stat info {};
    if (::lstat(agent_home.c_str(), &info) != 0 || !S_ISDIR(info.st_mode) ||
        info.st_uid != ::geteuid() || (info.st_mode & 077) != 0) {
        return Error{ErrorKind::system,
                     agent_home + " is not a directory of the user's own with mode 0700"};
    }
    if (!fresh) {
        return Ok{};
    }
    // Copies, never links: what the agent changes stays its own. Symlinks are copied as links
    // (what they point to is not granted, so they give the agent nothing).
    for (const auto& entry : fs::directory_iterator(user_home, ec)) {
        const std::string name = entry.path().filename().string();
        const bool wanted = std::any_of(home_state.begin(), home_state.end(), [&](const auto& s) {
            return s.back() == '*' ? name.rfind(s.substr(0, s.size() - 1), 0) == 0 : name == s;
        });
        if (wanted) {
            fs::copy(entry.path(), agent_home + "/" + name,
                     fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
            if (ec) {
                return Error{ErrorKind::system, "copy ~/" + name + ": " + ec.message()};
            }
        }
    }
    return Ok{};
}

Status check_access_paths(const Config& config, const std::string& user_home,
                          const std::string& runs_dir) {
    const Protected protect = protected_trees(user_home, runs_dir);
    for (const auto& [name, agent] : config.agents) {
        const std::vector<std::string> workdir = agent.workdir.empty()
                                                     ? std::vector<std::string>{}
                                                     : std::vector<std::string>{agent.workdir};
        for (const auto& [key, paths] :
             {std::pair{"read", &agent.read}, std::pair{"write", &agent.write},
              std::pair{"workdir", &workdir}}) {
            for (const std::string& path : *paths) {
                const std::string problem = access_problem(expand_home(path, user_home), protect);
                if (!problem.empty()) {
                    return input_error("config " + config.source + ": agents." + name + "." + key +
                                       ": " + problem);
                }
            }
        }
    }
    return Ok{};
}

Status check_repo_paths(const std::string& origin, const std::vector<std::string>& read,
                        const std::vector<std::string>& repository, const Config& config,
                        const std::string& user_home, const std::string& runs_dir) {
    const Protected protect = protected_trees(user_home, runs_dir);
    for (const std::string& path : read) {
        if (const std::string problem = access_problem(path, protect); !problem.empty()) {
            return input_error("repo " + origin + ": " + problem);
        }
    }
    // No agent may write the repository: git runs there unconfined (its config, its hooks).
    for (const auto& [name, agent] : config.agents) {
        std::vector<std::string> writes = agent.write;
        if (!agent.workdir.empty()) {
            writes.push_back(agent.workdir);
        }
        for (const std::string& granted : writes) {
            const std::string written = normal(real_path(expand_home(granted, user_home)));
            for (const std::string& dir : repository) {
                const std::string mine = normal(real_path(dir));
                if (!written.empty() && !mine.empty() &&
                    (is_within(mine, written) || is_within(written, mine))) {
                    return input_error("repo " + origin + ": agents." + name + " may write it (" +
                                       granted +
                                       "), and git runs there outside any agent's confinement");
                }
            }
        }
    }
    return Ok{};
}

uint16_t url_port(const std::string& url) {
    const size_t scheme_end = url.find("://");
    if (scheme_end == std::string::npos) {
        return 0;
    }
    const std::string scheme = url.substr(0, scheme_end);
    std::string authority = url.substr(scheme_end + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    authority =
        authority.substr(authority.rfind('@') == std::string::npos ? 0 : authority.rfind('@') + 1);
    const size_t bracket = authority.rfind(']');
    const size_t colon = authority.rfind(':');
    if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
        const std::string digits = authority.substr(colon + 1);
        if (digits.empty() || digits.size() > 5 ||
            digits.find_first_not_of("0123456789") != std::string::npos) {
            return 0;
        }
        const long port = std::strtol(digits.c_str(), nullptr, 10);
        return port > 0 && port <= 65535 ? static_cast<uint16_t>(port) : 0;
    }
    return scheme == "https" ? 443 : scheme == "http" ? 80 : 0;
}

} // namespace fleet
