// git as dispatch runs it, for an agent's repository (agent_repo.hpp says where and why):
// /usr/bin/git through run_bounded (base/probe.hpp: its own session, bounded in time, killed
// with its group), an environment of its own (the system's PATH, LC_ALL=C, no system or global
// config, HOME=/nonexistent, GIT_CEILING_DIRECTORIES above the directory it runs in, no
// terminal prompt, no optional locks, no pager, fleet-dispatch as author and committer), and
// before its subcommand `-c` for what a repository's config could make git run or bend
// (core.hooksPath=/dev/null, core.fsmonitor=false, commit.gpgSign=false, gc.auto=0,
// maintenance.auto=false, submodule.recurse=false, diff.ignoreSubmodules=none,
// diff.noprefix=false, diff.mnemonicPrefix=false, diff.relative=false) and safe.directory for
// the directories the call trusts. Under an agent's confinement when the call says so (the
// spawner's AgentSteps, entered in the child before exec).
//
// Tested end to end (tests/integration/repo_test.cpp): every call runs a real git.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/probe.hpp"
#include "runner/spawner.hpp"
#include "sys/result.hpp"

namespace fleet {

using GitClock = std::chrono::steady_clock;

constexpr size_t k_max_git_output = size_t{64} << 20; // numstat of a large change, refs

// How one git runs: where (-C; discovery stops there: GIT_CEILING_DIRECTORIES is its parent),
// which directories it may trust as another owner's, under which confinement, where its
// stdout goes (-1: a memory file read back) and its stdin comes from, and by when it must end.
struct GitCall {
    std::string dir;
    std::vector<std::string> trusted;
    const AgentSteps* confine = nullptr;
    int stdout_fd = -1;
    int stdin_fd = -1;
    GitClock::time_point deadline = GitClock::time_point::max();
    std::vector<std::string> env = {}; // more of it: a quarantine's object directories
};

struct GitOutput {
    std::string out; // stdout, when it was not sent to GitCall::stdout_fd
    std::string err;
    int code = -1; // the exit code; -1 for a signal
};

// Runs git with `args` (its subcommand first); an Error only when it could not start or did not
// end in time (2 minutes, or the call's deadline).
Result<GitOutput> run_git(const GitCall& call, const std::vector<std::string>& args);

// run_git that must exit 0; its stdout, or an Error with git's first line of stderr.
Result<std::string> git_ok(const GitCall& call, const std::vector<std::string>& args);

// `text` without its trailing blanks and line ends.
std::string trim_trailing(const std::string& text);

// `path`, relative to `relative_to` unless absolute, resolved (realpath) where it exists.
std::string absolute_to(const std::string& path, const std::string& relative_to);

// 40 (SHA-1) or 64 (SHA-256) lower-case hex digits.
bool is_commit_id(const std::string& text);

// The lines of `text`, without their line ends.
std::vector<std::string> split_lines(const std::string& text);

} // namespace fleet
