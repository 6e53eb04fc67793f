#include "runner/agent_repo.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/probe.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* k_git = "/usr/bin/git";
constexpr std::chrono::minutes k_git_timeout{2};         // one git
constexpr std::chrono::minutes k_collection_budget{3};   // every git after one agent
constexpr size_t k_max_git_output = size_t{64} << 20;    // numstat of a large change, refs
constexpr size_t k_max_bundle_header = size_t{64} << 10; // its refs and prerequisites

// How one git runs: where (-C; discovery stops there: GIT_CEILING_DIRECTORIES is its parent),
// which directories it may trust as another owner's, under which confinement, where its
// stdout goes (-1: a memory file read back) and its stdin comes from, and by when it must end.
struct GitCall {
    std::string dir;
    std::vector<std::string> trusted;
    const AgentSteps* confine = nullptr;
    int stdout_fd = -1;
    int stdin_fd = -1;
    Clock::time_point deadline = Clock::time_point::max();
    std::vector<std::string> env = {}; // more of it: a quarantine's object directories
};

struct GitOutput {
    std::string out; // stdout, when it was not sent to GitCall::stdout_fd
    std::string err;
    int code = -1; // the exit code; -1 for a signal
};

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

std::string first_line(const std::string& text) {
    const size_t start = text.find_first_not_of(" \t\r\n");
    if (start == std::string::npos) {
        return "";
    }
    const size_t end = text.find('\n', start);
    return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// Runs git; an Error only when it could not start or did not end in time.
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
        call.deadline == Clock::time_point::max() ? k_git_timeout : call.deadline - Clock::now());
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

// run_git that must exit 0; its stdout, or an Error with git's first line of stderr.
Result<std::string> git_ok(const GitCall& call, const std::vector<std::string>& args) {
    Result<GitOutput> ran = run_git(call, args);
    if (!ran) {
        return ran.error();
    }
    if (ran->code != 0) {
        const std::string said = first_line(ran->err);
        return Error{ErrorKind::system,
                     "git " + args[0] + ": " +
                         (said.empty() ? "exit " + std::to_string(ran->code) : said)};
    }
    return std::move(ran->out);
}

std::string trim(const std::string& text) {
    const size_t end = text.find_last_not_of(" \t\r\n");
    return end == std::string::npos ? "" : text.substr(0, end + 1);
}

std::string absolute(const std::string& path, const std::string& relative_to) {
    const std::string joined = path.front() == '/' ? path : relative_to + "/" + path;
    char resolved[PATH_MAX];
    return ::realpath(joined.c_str(), resolved) != nullptr ? std::string(resolved) : joined;
}

// SHA-1 or SHA-256.
bool is_commit_id(const std::string& text) {
    return (text.size() == 40 || text.size() == 64) &&
           text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

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
        const std::string dir = absolute(line, objects);
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

std::vector<std::string> RepoSource::read_paths() const {
    std::vector<std::string> paths = {absolute(common_dir + "/objects", common_dir)};
    alternates_of(paths.front(), 1, paths);
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

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> parts;
    size_t at = 0;
    while (at < text.size()) {
        const size_t end = std::min(text.find('\n', at), text.size());
        parts.push_back(text.substr(at, end - at));
        at = end + 1;
    }
    return parts;
}

// What git says the origin is: bare, its git dir, its common dir, its object format; its top.
Status describe_origin(const std::string& origin, RepoSource& source) {
    const GitCall call{source.origin, {source.origin}};
    Result<std::string> what =
        git_ok(call, {"rev-parse", "--is-bare-repository", "--absolute-git-dir", "--git-common-dir",
                      "--show-object-format"});
    const std::vector<std::string> lines = lines_of(what ? *what : "");
    if (!what || lines.size() != 4) {
        return input_error("repo " + origin + " is not a git repository" +
                           (what ? "" : " (" + what.error().message + ")"));
    }
    source.bare = lines[0] == "true";
    source.git_dir = lines[1];
    source.common_dir = absolute(lines[2], source.origin);
    source.object_format = lines[3];
    for (const std::string& dir : source.trusted()) {
        if (Status owned = owned_well(origin, dir); !owned) {
            return owned;
        }
    }
    const Result<std::string> top = source.bare ? Result<std::string>(source.git_dir + "\n")
                                                : git_ok(call, {"rev-parse", "--show-toplevel"});
    if (!top || trim(*top) != source.origin) {
        return input_error("repo " + origin + " is inside a repository, not its top" +
                           (top ? " (" + trim(*top) + ")" : ""));
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
    if (!base || !is_commit_id(trim(*base))) {
        return input_error("repo " + origin + " has no commit " + source.ref);
    }
    source.base = trim(*base);
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
    } else if (!trim(*dirty).empty()) {
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

namespace {

// Counts of `diff --numstat -z`: "ADDED\tDELETED\tPATH\0", or for a rename
// "ADDED\tDELETED\t\0FROM\0TO\0"; a binary file counts "-" lines.
void count_numstat(const std::string& text, AgentRepo& repo) {
    size_t at = 0;
    const auto field = [&](char end) {
        const size_t stop = text.find(end, at);
        std::string value =
            text.substr(at, stop == std::string::npos ? std::string::npos : stop - at);
        at = stop == std::string::npos ? text.size() : stop + 1;
        return value;
    };
    const auto number = [](const std::string& value) {
        return value == "-" ? 0 : std::strtoull(value.c_str(), nullptr, 10);
    };
    while (at < text.size()) {
        const uint64_t added = number(field('\t'));
        const uint64_t deleted = number(field('\t'));
        if (at < text.size() && text[at] == '\0') {
            ++at;
            field('\0');
        }
        field('\0');
        ++repo.files;
        repo.insertions += added;
        repo.deletions += deleted;
    }
}

// A file of the run directory for git's stdout: created new (an old one, or anything planted,
// is replaced first), the runner's.
Result<Fd> run_file(int run_dir, const std::string& name) {
    if (::unlinkat(run_dir, name.c_str(), 0) != 0 && errno != ENOENT) {
        return system_error("remove " + name, errno);
    }
    Fd file(::openat(run_dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     0600));
    if (!file.valid()) {
        return system_error("create " + name, errno);
    }
    return file;
}

// Steps 1 and 2: what the agent left, committed; the result commit.
Result<std::string> commit_changes(const GitCall& in_clone, const ChangesRequest& request) {
    if (Result<std::string> added = git_ok(in_clone, {"add", "-A"}); !added) {
        return added.error();
    }
    Result<GitOutput> staged = run_git(in_clone, {"diff", "--cached", "--quiet"});
    if (!staged) {
        return staged.error();
    }
    if (staged->code == 1) {
        const std::string message = "fleet-dispatch " + request.run_id + " " + request.agent +
                                    ": " + request.prompt_line.substr(0, 200);
        if (Result<std::string> made =
                git_ok(in_clone, {"commit", "--no-verify", "-q", "-m", message});
            !made) {
            return made.error();
        }
    } else if (staged->code != 0) {
        return Error{ErrorKind::system, "git diff --cached: " + first_line(staged->err)};
    }
    Result<std::string> head = git_ok(in_clone, {"rev-parse", "--verify", "HEAD^{commit}"});
    if (!head) {
        return head.error();
    }
    if (!is_commit_id(trim(*head))) {
        return Error{ErrorKind::system, "git rev-parse HEAD: not a commit id"};
    }
    return trim(*head);
}

// Step 3: the patch and the stat into the run directory, the counts into `repo`. What could
// not be written whole is removed.
Status record_diff(GitCall in_clone, const ChangesRequest& request, AgentRepo& repo) {
    const std::vector<std::string> range = {"--src-prefix=a/", "--dst-prefix=b/",
                                            request.source->base, repo.commit};
    const std::vector<std::string> diff = {"diff", "--no-ext-diff", "--no-textconv", "--no-color"};
    const auto with = [&](std::vector<std::string> args, std::initializer_list<const char*> more) {
        args.insert(args.end(), more.begin(), more.end());
        args.insert(args.end(), range.begin(), range.end());
        return args;
    };
    const std::string names[] = {request.agent + ".diff", request.agent + ".diffstat"};
    const auto discard = [&](const Error& error) {
        for (const std::string& name : names) {
            ::unlinkat(request.run_dir, name.c_str(), 0);
        }
        return error;
    };
    for (const auto& [name, args] : {std::pair{names[0], with(diff, {"--binary"})},
                                     std::pair{names[1], with(diff, {"--stat=200,150"})}}) {
        Result<Fd> file = run_file(request.run_dir, name);
        if (!file) {
            return discard(file.error());
        }
        in_clone.stdout_fd = file->get();
        if (Result<std::string> done = git_ok(in_clone, args); !done) {
            return discard(done.error());
        }
    }
    in_clone.stdout_fd = -1;
    Result<std::string> numstat = git_ok(in_clone, with(diff, {"--numstat", "-z"}));
    if (!numstat) {
        return discard(numstat.error());
    }
    count_numstat(*numstat, repo);
    repo.patch = request.run_path + "/" + request.agent + ".diff";
    return Ok{};
}

// A bundle's header (v2 or v3: its signature, capabilities, prerequisites "-ID", refs
// "ID NAME", an empty line), read from `fd`, which it leaves at the pack that follows; the id
// it gives `ref`, or an Error.
Result<std::string> bundle_tip(int fd, const std::string& ref) {
    std::string header(k_max_bundle_header, '\0');
    const ssize_t n = ::pread(fd, header.data(), header.size(), 0);
    const size_t end = n > 0 ? header.find("\n\n") : std::string::npos;
    if (end == std::string::npos || end >= static_cast<size_t>(n) || header.rfind("# v", 0) != 0) {
        return Error{ErrorKind::system, "the bundle has no header"};
    }
    std::string tip;
    for (size_t at = header.find('\n') + 1; at <= end;) {
        const size_t stop = header.find('\n', at);
        const std::string line = header.substr(at, stop - at);
        at = stop + 1;
        const size_t space = line.find(' ');
        if (!line.empty() && line.front() != '-' && line.front() != '@' &&
            space != std::string::npos && line.substr(space + 1) == ref) {
            tip = line.substr(0, space);
        }
    }
    if (!is_commit_id(tip)) {
        return Error{ErrorKind::system, "the bundle does not hold " + ref};
    }
    if (::lseek(fd, static_cast<off_t>(end + 2), SEEK_SET) < 0) {
        return system_error("lseek", errno);
    }
    return tip;
}

// The pack of a bundle (`pack_fd`, at its start) into the origin through a quarantine, as git's
// receive-pack does: objects/incoming-XXXXXX is the object directory of index-pack (--strict:
// every object checked; --fix-thin against the origin's) and of rev-list (everything `commit`
// needs is there), with the origin's objects as their alternate; the pack moves into
// objects/pack only then (its index last: git sees a pack by its index). The quarantine is
// removed whatever happens, so nothing an agent sent stays in the origin unless it checked out.
Status import_pack(GitCall in_origin, int pack_fd, const ChangesRequest& request,
                   const std::string& commit) {
    const std::string objects = request.source->read_paths().front();
    const Fd objects_dir(::open(objects.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::string incoming = objects + "/incoming-XXXXXX";
    if (!objects_dir.valid() || ::mkdtemp(incoming.data()) == nullptr) {
        return system_error("make a quarantine in " + objects, errno);
    }
    const std::string name = incoming.substr(objects.size() + 1);
    struct Quarantine {
        int dir;
        const std::string& name;
        ~Quarantine() { remove_tree_at(dir, name.c_str()); }
    } const quarantine{objects_dir.get(), name};
    if (::mkdir((incoming + "/pack").c_str(), 0755) != 0) {
        return system_error("mkdir " + incoming + "/pack", errno);
    }
    in_origin.env = {"GIT_OBJECT_DIRECTORY=" + incoming,
                     "GIT_ALTERNATE_OBJECT_DIRECTORIES=" + objects};
    in_origin.stdin_fd = pack_fd;
    if (Result<std::string> taken =
            git_ok(in_origin, {"index-pack", "--stdin", "--fix-thin", "--strict"});
        !taken) {
        return taken.error();
    }
    in_origin.stdin_fd = -1;
    if (Result<std::string> whole = git_ok(
            in_origin, {"rev-list", "--objects", "--quiet", commit, "--not", request.source->base});
        !whole) {
        return whole.error();
    }
    std::vector<std::string> files;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(incoming + "/pack", error)) {
        files.push_back(entry.path().filename());
    }
    if (error) {
        return Error{ErrorKind::system, "read " + incoming + "/pack: " + error.message()};
    }
    std::stable_partition(files.begin(), files.end(), [](const std::string& file) {
        return file.size() < 4 || file.compare(file.size() - 4, 4, ".idx") != 0;
    });
    for (const std::string& file : files) {
        if (::rename((incoming + "/pack/" + file).c_str(), (objects + "/pack/" + file).c_str()) !=
            0) {
            return system_error("move " + file + " into " + objects + "/pack", errno);
        }
    }
    return Ok{};
}

// Step 4 and the import: the branch into the origin. The confined git writes a bundle onto a
// file of the run directory; the origin's own git takes in its pack (index-pack --strict: every
// object checked; --fix-thin against the origin's objects), checks that the result is there
// whole (rev-list --objects), and creates the ref (update-ref with the null id: only a new
// one). No fetch: no remote is looked up, no transport chosen from what lies at a path, and a
// commit the origin has already (an agent that went back in history) needs no bundle.
Status import_into_origin(GitCall in_clone, const ChangesRequest& request, AgentRepo& repo) {
    const std::string ref = "refs/heads/" + request.branch;
    GitCall in_origin{request.source->origin, request.source->trusted()};
    in_origin.deadline = in_clone.deadline;
    const std::string zero(repo.commit.size(), '0');
    Result<GitOutput> known = run_git(in_origin, {"cat-file", "-e", repo.commit + "^{commit}"});
    if (!known) {
        return known.error();
    }
    if (known->code != 0) {
        if (Result<std::string> set = git_ok(in_clone, {"update-ref", ref, repo.commit}); !set) {
            return set.error();
        }
        const std::string bundle = "." + request.agent + ".bundle";
        Result<Fd> file = run_file(request.run_dir, bundle);
        if (!file) {
            return file.error();
        }
        in_clone.stdout_fd = file->get();
        Result<std::string> made =
            git_ok(in_clone, {"bundle", "create", "-q", "-", ref, "^" + request.source->base});
        Result<Fd> pack = open_regular_at(request.run_dir, bundle, k_max_git_output * 1024);
        ::unlinkat(request.run_dir, bundle.c_str(), 0);
        if (!made || !pack) {
            return !made ? made.error() : pack.error();
        }
        Result<std::string> tip = bundle_tip(pack->get(), ref);
        if (!tip || *tip != repo.commit) {
            return tip ? Error{ErrorKind::system, "the bundle holds another commit"} : tip.error();
        }
        if (Status taken = import_pack(in_origin, pack->get(), request, repo.commit); !taken) {
            return taken;
        }
    }
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"rev-list", "--objects", "--quiet", repo.commit, "--not",
                                   request.source->base},
          std::vector<std::string>{"update-ref", ref, repo.commit, zero}}) {
        if (Result<std::string> done = git_ok(in_origin, args); !done) {
            return done.error();
        }
    }
    repo.in_origin = true;
    return Ok{};
}

} // namespace

AgentRepo collect_changes(const ChangesRequest& request) {
    AgentRepo repo;
    repo.collected = true;
    GitCall in_clone{request.workdir, request.source->trusted(), &request.confinement};
    in_clone.deadline = Clock::now() + k_collection_budget;
    Result<std::string> result = commit_changes(in_clone, request);
    if (!result) {
        repo.error = result.error().message;
        return repo;
    }
    repo.commit = *result;
    if (repo.commit == request.source->base) {
        repo.commit.clear();
        return repo;
    }
    repo.changed = true;
    repo.branch = request.branch;
    if (Status recorded = record_diff(in_clone, request, repo); !recorded) {
        repo.error = recorded.error().message;
        return repo;
    }
    if (Status imported = import_into_origin(in_clone, request, repo); !imported) {
        repo.error =
            "the branch stays in the clone, not in the origin: " + imported.error().message;
    }
    return repo;
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
