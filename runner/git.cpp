#include "runner/git.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <sys/mman.h>
#include <unistd.h>

#include "base/probe.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

constexpr const char* k_git = "/usr/bin/git";
constexpr std::chrono::minutes k_git_timeout{2}; // one git

std::vector<std::string> git_env(const std::string& dir) {
    const std::string parent = dir.substr(0, std::max<size_t>(dir.rfind('/'), 1));
    return {k_system_path,
            "LC_ALL=C",
            "GIT_CEILING_DIRECTORIES=" + parent, // a deleted .git is no repository above it
            "HOME=/nonexistent", // no ~/.config/git/attributes nor ignore of the user's
            "GIT_CONFIG_NOSYSTEM=1",
            "GIT_CONFIG_GLOBAL=/dev/null",
            "GIT_TERMINAL_PROMPT=0",
            "GIT_OPTIONAL_LOCKS=0",
            "GIT_PAGER=cat",
            "GIT_AUTHOR_NAME=fleet-dispatch",
            "GIT_AUTHOR_EMAIL=fleet-dispatch@localhost",
            "GIT_COMMITTER_NAME=fleet-dispatch",
            "GIT_COMMITTER_EMAIL=fleet-dispatch@localhost"};
}

} // namespace

Result<GitOutput> run_git(const GitCall& call, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {k_git,
                                     "-C",
                                     call.dir,
                                     "-c",
                                     "core.hooksPath=/dev/null",
                                     "-c",
                                     "core.fsmonitor=false",
                                     "-c",
                                     "commit.gpgSign=false",
                                     "-c",
                                     "gc.auto=0",
                                     "-c",
                                     "maintenance.auto=false",
                                     "-c",
                                     "submodule.recurse=false",
                                     "-c",
                                     "diff.ignoreSubmodules=none",
                                     "-c",
                                     "diff.noprefix=false",
                                     "-c",
                                     "diff.mnemonicPrefix=false",
                                     "-c",
                                     "diff.relative=false"};
    for (const std::string& dir : call.trusted) {
        argv.insert(argv.end(), {"-c", "safe.directory=" + dir});
    }
    argv.insert(argv.end(), args.begin(), args.end());
    Fd memory;
    if (call.stdout_fd < 0) {
        memory = Fd(::memfd_create("git-stdout", MFD_CLOEXEC));
        if (!memory.valid()) {
            return system_error("memfd_create", errno);
        }
    }
    ProbeLimits limits;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        call.deadline == GitClock::time_point::max() ? k_git_timeout
                                                     : call.deadline - GitClock::now());
    if (left.count() <= 0) {
        return Error{ErrorKind::system, "git " + args[0] + ": out of time"};
    }
    limits.timeout = std::min<std::chrono::milliseconds>(left, k_git_timeout);
    limits.grace = std::chrono::seconds(1);
    limits.max_output = size_t{64} * 1024;
    limits.stdin_fd = call.stdin_fd;
    limits.stdout_fd = call.stdout_fd >= 0 ? call.stdout_fd : memory.get();
    if (call.confine != nullptr) {
        limits.confine = enter_agent_steps;
        limits.confine_context = call.confine;
    }
    std::vector<std::string> env = git_env(call.dir);
    env.insert(env.end(), call.env.begin(), call.env.end());
    Result<ProbeResult> ran = run_bounded(argv, env, limits);
    if (!ran) {
        return Error{ErrorKind::system, "git " + args[0] + ": " + ran.error().message};
    }
    if (ran->timed_out) {
        return Error{ErrorKind::system, "git " + args[0] + ": no answer within " +
                                            std::to_string(limits.timeout.count() / 1000) + " s"};
    }
    GitOutput output;
    output.err = std::move(ran->output);
    output.code = ran->status.exited ? ran->status.code : -1;
    if (memory.valid()) {
        if (::lseek(memory.get(), 0, SEEK_SET) != 0) {
            return system_error("lseek", errno);
        }
        Result<std::string> text = read_fd(memory.get(), k_max_git_output);
        if (!text) {
            return Error{ErrorKind::system, "git " + args[0] + ": " + text.error().message};
        }
        output.out = std::move(*text);
    }
    return output;
}

Result<std::string> git_ok(const GitCall& call, const std::vector<std::string>& args) {
    Result<GitOutput> ran = run_git(call, args);
    if (!ran) {
        return ran.error();
    }
    if (ran->code != 0) {
        const std::string said = first_line_of(ran->err);
        return Error{ErrorKind::system,
                     "git " + args[0] + ": " +
                         (said.empty() ? "exit " + std::to_string(ran->code) : said)};
    }
    return std::move(ran->out);
}

std::string trim_trailing(const std::string& text) {
    const size_t end = text.find_last_not_of(" \t\r\n");
    return end == std::string::npos ? "" : text.substr(0, end + 1);
}

std::string absolute_to(const std::string& path, const std::string& relative_to) {
    const std::string joined = path.front() == '/' ? path : relative_to + "/" + path;
    char resolved[PATH_MAX];
    return ::realpath(joined.c_str(), resolved) != nullptr ? std::string(resolved) : joined;
}

bool is_commit_id(const std::string& text) {
    return (text.size() == 40 || text.size() == 64) &&
           text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> parts;
    size_t at = 0;
    while (at < text.size()) {
        const size_t end = std::min(text.find('\n', at), text.size());
        parts.push_back(text.substr(at, end - at));
        at = end + 1;
    }
    return parts;
}

} // namespace fleet
