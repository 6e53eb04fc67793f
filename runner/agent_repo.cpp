#include "runner/agent_repo.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner/git.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

// The object directories an origin's objects/info/alternates names, and theirs, as git follows
// them (5 levels; a relative entry is relative to the directory that names it; one that is
// missing is skipped, as git warns and goes on; a quoted one too). Appended to `found` once each.
void alternates_of(const std::string& objects, int depth, std::vector<std::string>& found) {
    Result<std::string> text =
        read_file_at(AT_FDCWD, objects + "/info/alternates", size_t{64} * 1024);
    if (!text || depth > 5) {
        return;
    }
    size_t at = 0;
    while (at < text->size()) {
        const size_t end = std::min(text->find('\n', at), text->size());
        const std::string line = text->substr(at, end - at);
        at = end + 1;
        if (line.empty() || line.front() == '#' || line.front() == '"') {
            continue;
        }
        const std::string dir = absolute_to(line, objects);
        struct stat info {};
        if (::stat(dir.c_str(), &info) != 0 ||
            std::find(found.begin(), found.end(), dir) != found.end()) {
            continue;
        }
        found.push_back(dir);
        alternates_of(dir, depth + 1, found);
    }
}

} // namespace

std::vector<std::string> RepoSource::trusted() const {
    std::vector<std::string> paths = {origin};
    for (const std::string& dir : {git_dir, common_dir}) {
        if (!dir.empty() && std::find(paths.begin(), paths.end(), dir) == paths.end()) {
            paths.push_back(dir);
        }
    }
    return paths;
}

std::string agent_branch(const std::string& run_id, const std::string& agent) {
    return "fleet/" + run_id + "/" + agent;
}

namespace {

// Root's or the user's: another user's repository would run that user's config as this one.
Status owned_well(const std::string& origin, const std::string& dir) {
    struct stat owner {};
    if (::stat(dir.c_str(), &owner) != 0) {
        return input_error("repo " + origin + ": " + dir + ": " + std::strerror(errno));
    }
    if (owner.st_uid != 0 && owner.st_uid != ::geteuid()) {
        return input_error("repo " + origin + ": " + dir +
                           " is owned by another user (only root's or the user's are used)");
    }
    return Ok{};
}

// What git says the origin is: bare, its git dir, its common dir, its object format; its top.
Status describe_origin(const std::string& origin, RepoSource& source) {
    const GitCall call{source.origin, {source.origin}};
    Result<std::string> what =
        git_ok(call, {"rev-parse", "--is-bare-repository", "--absolute-git-dir", "--git-common-dir",
                      "--show-object-format"});
    const std::vector<std::string> lines = split_lines(what ? *what : "");
    if (!what || lines.size() != 4) {
        return input_error("repo " + origin + " is not a git repository" +
                           (what ? "" : " (" + what.error().message + ")"));
    }
    source.bare = lines[0] == "true";
    source.git_dir = lines[1];
    source.common_dir = absolute_to(lines[2], source.origin);
    source.object_format = lines[3];
    source.objects = {absolute_to(source.common_dir + "/objects", source.common_dir)};
    alternates_of(source.objects.front(), 1, source.objects);
    for (const std::string& dir : source.trusted()) {
        if (Status owned = owned_well(origin, dir); !owned) {
            return owned;
        }
    }
    const Result<std::string> top = source.bare ? Result<std::string>(source.git_dir + "\n")
                                                : git_ok(call, {"rev-parse", "--show-toplevel"});
    if (!top || trim_trailing(*top) != source.origin) {
        return input_error("repo " + origin + " is inside a repository, not its top" +
                           (top ? " (" + trim_trailing(*top) + ")" : ""));
    }
    // A partial clone fetches what it lacks from its promisor remote, whatever reads it.
    Result<GitOutput> partial = run_git(call, {"config", "--get", "extensions.partialClone"});
    if (!partial || partial->code == 0) {
        return input_error("repo " + origin + " is a partial clone: its objects are not all here");
    }
    return Ok{};
}

} // namespace

Result<RepoSource> open_repo(const std::string& origin, const std::string& ref) {
    RepoSource source;
    source.ref = ref.empty() ? "HEAD" : ref;
    char resolved[PATH_MAX];
    struct stat info {};
    if (::realpath(origin.c_str(), resolved) == nullptr || ::stat(resolved, &info) != 0) {
        return input_error("repo " + origin + ": " + std::strerror(errno));
    }
    if (!S_ISDIR(info.st_mode)) {
        return input_error("repo " + origin + " is not a directory");
    }
    if (::access(resolved, R_OK | X_OK) != 0) {
        return input_error("repo " + origin + " cannot be read: " + std::strerror(errno));
    }
    source.origin = resolved;
    if (Status owned = owned_well(origin, source.origin); !owned) {
        return owned.error();
    }
    if (Status described = describe_origin(origin, source); !described) {
        return described.error();
    }
    if (source.ref.front() == '-') {
        return input_error("repo " + origin + ": ref " + source.ref + " starts with '-'");
    }
    const GitCall call{source.origin, source.trusted()};
    Result<std::string> base = git_ok(
        call, {"rev-parse", "--verify", "--quiet", "--end-of-options", source.ref + "^{commit}"});
    if (!base || !is_commit_id(trim_trailing(*base))) {
        return input_error("repo " + origin + " has no commit " + source.ref);
    }
    source.base = trim_trailing(*base);
    return source;
}

void note_uncommitted(RepoSource& source) {
    if (source.bare) {
        return;
    }
    const GitCall call{source.origin, source.trusted()};
    Result<std::string> dirty =
        git_ok(call, {"status", "--porcelain", "--untracked-files=no", "--ignore-submodules=all"});
    if (!dirty) {
        source.note = "whether " + source.origin + " has uncommitted changes is unknown (" +
                      dirty.error().message + "): the agents start from " + source.ref;
    } else if (!trim_trailing(*dirty).empty()) {
        source.note = "uncommitted changes in " + source.origin +
                      " were ignored: the agents start from " + source.ref;
    }
}

namespace {

// A new file of the clone's .git, made by us (O_EXCL: nothing there is the agent's yet).
Status write_git_file(const std::string& path, const std::string& text) {
    const Fd file(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!file.valid() || write_all(file.get(), text) != 0) {
        return system_error("write " + path, errno);
    }
    return Ok{};
}

} // namespace

Status clone_repo(const RepoSource& source, const std::string& workdir, const std::string& branch,
                  const std::string& exclude) {
    const GitCall call{workdir, {}};
    if (Result<std::string> made =
            git_ok(call, {"init", "-q", "--template=", "--object-format=" + source.object_format});
        !made) {
        return made.error();
    }
    const std::string git = workdir + "/.git";
    for (const std::string& dir : {git + "/objects/info", git + "/info"}) {
        if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
            return system_error("mkdir " + dir, errno);
        }
    }
    if (Status borrowed =
            write_git_file(git + "/objects/info/alternates", source.common_dir + "/objects\n");
        !borrowed) {
        return borrowed;
    }
    if (Status excluded =
            write_git_file(git + "/info/exclude", exclude.empty() ? "" : "/" + exclude + "\n");
        !excluded) {
        return excluded;
    }
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"remote", "add", "origin", source.origin},
          std::vector<std::string>{"checkout", "-q", "-b", branch, source.base}}) {
        if (Result<std::string> done = git_ok(call, args); !done) {
            return done.error();
        }
    }
    return Ok{};
}

Result<size_t> remove_run_branches(const std::string& origin, const std::string& run_id) {
    const GitCall call{origin, {origin}};
    const std::string prefix = "refs/heads/fleet/" + run_id + "/";
    Result<std::string> listed =
        git_ok(call, {"for-each-ref", "--format=delete %(refname) %(objectname)", prefix});
    if (!listed) {
        return listed.error();
    }
    if (listed->empty()) {
        return size_t{0};
    }
    size_t count = 0;
    for (size_t at = 0; (at = listed->find('\n', at)) != std::string::npos; ++at) {
        ++count;
    }
    Fd commands(::memfd_create("update-ref", MFD_CLOEXEC));
    if (!commands.valid() || write_all(commands.get(), *listed) != 0 ||
        ::lseek(commands.get(), 0, SEEK_SET) != 0) {
        return system_error("memfd for update-ref", errno);
    }
    GitCall deleting = call;
    deleting.stdin_fd = commands.get();
    if (Result<std::string> done = git_ok(deleting, {"update-ref", "--stdin"}); !done) {
        return done.error();
    }
    return count;
}

} // namespace fleet
