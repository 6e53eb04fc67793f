// An agent's own clone of a repository, and what it changed there (docs/dispatch.md, "Working
// on a repository"; docs/design/confinement.md §5).
//
// Every git here runs as the user (dispatch has dropped; root never runs git: a repository's
// config and hooks are code), as git.hpp runs it: its own environment and the `-c` settings a
// repository's config cannot override. A failure is its first line of stderr.
// agent_repo.cpp: the origin and the clone; agent_changes.cpp: what the agent changed.
//
// Before the run (open_repo; the run command, before the run directory exists, so a failure
// starts nothing): the origin must be a directory; with safe.directory for the origin's paths,
// which root or the user must own (another user's config would run as this one; root's is the
// operator's), `rev-parse --is-bare-repository --absolute-git-dir --git-common-dir` says what
// it is (its top, not a directory within), `rev-parse --verify REF^{commit}` gives the commit
// every agent starts from (the ref given, else HEAD), and a non-bare origin's uncommitted
// changes to tracked files are noted (the agents start from the commit; the working tree is
// ignored). The run command also refuses an origin any agent of the config may write
// (agent_access.hpp check_repo_paths): git runs there unconfined. Each failure is a one-line
// usage error.
//
// Before its agent (clone_repo, in its fresh, empty work directory, unconfined: nothing there
// is the agent's yet): `init -q --template=` (no template hooks); objects/info/alternates names
// the origin's common dir's objects (borrowed read-only, never hard-linked to the origin's
// files, as `clone --shared` does, but without running upload-pack in the origin: no config of
// the origin's is read, and a local transport would drop our safe.directory for it);
// info/exclude holds the task's artifact (collected apart); `remote add origin ORIGIN`;
// `checkout -q -b fleet/RUN/AGENT BASE` (the base's whole history is there, through the
// alternates). The agent's access (agent_access.hpp) reads the origin's objects directory
// (and those its own alternates name) and writes the clone alone: not the origin's work tree,
// nor its config.
//
// After its agent (collect_changes), each git in the clone under the agent's own confinement
// (enter_agent_steps: its cgroups, its Landlock domain; so a .git/config it wrote, a filter, a
// diff driver, an fsmonitor, a hooks path, runs nothing the agent could not run itself), with
// GIT_CEILING_DIRECTORIES above the clone (a deleted .git finds no repository above it) and the
// diff settings an agent could bend pinned (prefixes, submodules, relative), 3 minutes for all
// of them, each step checked, the first failure recorded as the changes' `error`:
//   1. add -A (ignored files stay out); diff --cached --quiet; when something is staged,
//      commit --no-verify -q -m "fleet-dispatch RUN AGENT: <the prompt's first line>" as
//      fleet-dispatch (GIT_AUTHOR_*, GIT_COMMITTER_*)
//   2. rev-parse --verify HEAD^{commit}: the result; the base itself means no changes (no
//      branch, no patch)
//   3. diff --no-ext-diff --no-textconv --binary BASE RESULT onto <run dir>/<agent>.diff,
//      --stat onto <agent>.diffstat and --numstat -z onto a memory file (the counts): files
//      the runner opened in the run directory, which the agent cannot write; removed again
//      when a step fails
//   4. unless the origin has the result already (cat-file -e, in the origin): update-ref
//      refs/heads/fleet/RUN/AGENT RESULT; bundle create - of that ref minus BASE onto
//      <run dir>/.<agent>.bundle
// then in the origin, unconfined (no agent may write it: above): the bundle's header read by
// the runner (its ref must name the result), its pack fed to `index-pack --stdin --fix-thin
// --strict` (every object checked) and `rev-list --objects RESULT --not BASE` (nothing
// missing) in a quarantine (import_pack: objects/incoming-XXXXXX, removed whatever happens),
// the pack moved in, `update-ref REF RESULT 0…0` (a new ref only; no other ref is written). No `git
// fetch`: it would look the path up as a remote of the origin's config and skip the object checks
// for bundles (git before 2.46). An origin the user cannot write keeps no branch (recorded,
// `in_origin` false); the clone and the patch stay in the run directory.
//
// Blocking: each step runs to its end (the 3 minutes at most) in the runner's one thread, so
// the other agents' output waits in their pipes meanwhile, and their timers.
//
// Tested end to end (tests/integration/repo_test.cpp): every step needs a real user, real git
// and the agent's real confinement.
#pragma once

#include <string>
#include <vector>

#include "runner/spawner.hpp"
#include "runner/status.hpp"
#include "sys/result.hpp"

namespace fleet {

// What the run's agents start from: an origin checked by open_repo.
struct RepoSource {
    std::string origin;     // the path given (a work tree, a linked worktree or a bare repository)
    std::string ref;        // as given; "HEAD" when none was
    std::string base;       // the commit REF names (40 hex digits, 64 for SHA-256)
    std::string git_dir;    // absolute
    std::string common_dir; // absolute: where objects and refs are (a linked worktree's main)
    bool bare = false;
    std::string object_format = "sha1"; // its clones get the same
    std::string note;                   // "uncommitted changes in the origin were ignored", or ""
    // The object directories the agent and its git read: the common dir's objects, then those
    // its alternates name; found once, when the origin is opened, so that what the run checks
    // (check_repo_paths) is what the agents are granted.
    std::vector<std::string> objects;
    // The origin, its git dir and its common dir: git's safe.directory entries for it.
    std::vector<std::string> trusted() const;
};

// The checks before a run; an input error (usage, exit 2) naming the problem.
Result<RepoSource> open_repo(const std::string& origin, const std::string& ref);

// The note on a non-bare origin's uncommitted changes (`git status` there: only once the
// origin is known to be out of every agent's reach, check_repo_paths).
void note_uncommitted(RepoSource& source);

// "fleet/RUN/AGENT".
std::string agent_branch(const std::string& run_id, const std::string& agent);

// Makes `workdir` (an empty directory) a clone of `source` on `branch` at the base; `exclude`
// (a file name, may be empty) goes into its info/exclude.
Status clone_repo(const RepoSource& source, const std::string& workdir, const std::string& branch,
                  const std::string& exclude);

struct ChangesRequest {
    const RepoSource* source = nullptr;
    std::string workdir;
    std::string branch;
    std::string run_id, agent;
    std::string prompt_line; // the prompt's first line, for the commit message
    int run_dir = -1;        // the run directory's fd: where <agent>.diff goes
    std::string run_path;
    AgentSteps confinement; // the agent's: every git in its clone runs under it
};

// Steps 1 to 4 and the fetch; never fails as a whole: what could not be done is `error`.
AgentRepo collect_changes(const ChangesRequest& request);

// Removes refs/heads/fleet/RUN/* from `origin` (each as it is: a ref moved since is still the
// run's by name; no other ref is touched). How many were removed, or the first error.
Result<size_t> remove_run_branches(const std::string& origin, const std::string& run_id);

} // namespace fleet
