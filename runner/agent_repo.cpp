#include "runner/agent_repo.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/probe.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

constexpr const char* k_git = "/usr/bin/git";
constexpr std::chrono::minutes k_git_timeout{2};
constexpr size_t k_max_git_output = size_t{16} << 20; // numstat of a large change, refs

// How one git runs: where (-C), which directories it may trust as another owner's, under
// which confinement, and where its stdout goes (-1: a memory file read back).
struct GitCall {
    std::string dir;
    std::vector<std::string> trusted;
    const AgentSteps* confine = nullptr;
    int stdout_fd = -1;
    int stdin_fd = -1;
};

struct GitOutput {
    std::string out; // stdout, when it was not sent to GitCall::stdout_fd
    std::string err;
    int code = -1; // the exit code; -1 for a signal
};

std::vector<std::string> git_env() {
    return {k_system_path,
            "LC_ALL=C",
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
                                     "maintenance.auto=false"};
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
    limits.timeout = k_git_timeout;
    limits.grace = std::chrono::seconds(1);
    limits.max_output = size_t{64} * 1024;
    limits.stdin_fd = call.stdin_fd;
    limits.stdout_fd = call.stdout_fd >= 0 ? call.stdout_fd : memory.get();
    if (call.confine != nullptr) {
        limits.confine = enter_agent_steps;
        limits.confine_context = call.confine;
    }
    Result<ProbeResult> ran = run_bounded(argv, git_env(), limits);
    if (!ran) {
        return Error{ErrorKind::system, "git " + args[0] + ": " + ran.error().message};
    }
    if (ran->timed_out) {
        return Error{ErrorKind::system, "git " + args[0] + ": no answer within 2 minutes"};
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

bool is_commit_id(const std::string& text) {
    return text.size() == 40 && text.find_first_not_of("0123456789abcdef") == std::string::npos;
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
    std::vector<std::string> paths = {origin};
    for (const std::string& dir : {git_dir, common_dir}) {
        if (!dir.empty() && dir != origin && dir.rfind(origin + "/", 0) != 0) {
            paths.push_back(dir);
        }
    }
    return paths;
}

std::string agent_branch(const std::string& run_id, const std::string& agent) {
    return "fleet/" + run_id + "/" + agent;
}

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
    const GitCall call{source.origin, {source.origin}};
    Result<std::string> what = git_ok(
        call, {"rev-parse", "--is-bare-repository", "--absolute-git-dir", "--git-common-dir"});
    const std::vector<std::string> lines = [&] {
        std::vector<std::string> parts;
        size_t at = 0;
        const std::string text = what ? *what : "";
        while (at < text.size()) {
            const size_t end = text.find('\n', at);
            parts.push_back(text.substr(at, end == std::string::npos ? end : end - at));
            at = end == std::string::npos ? text.size() : end + 1;
        }
        return parts;
    }();
    if (!what || lines.size() != 3) {
        return input_error("repo " + origin + " is not a git repository" +
                           (what ? "" : " (" + what.error().message + ")"));
    }
    source.bare = lines[0] == "true";
    source.git_dir = lines[1];
    source.common_dir = absolute(lines[2], source.origin);
    if (!source.bare) {
        Result<std::string> top = git_ok(call, {"rev-parse", "--show-toplevel"});
        if (!top || trim(*top) != source.origin) {
            return input_error("repo " + origin + " is inside a repository, not its top" +
                               (top ? " (" + trim(*top) + ")" : ""));
        }
    }
    if (source.ref.front() == '-') {
        return input_error("repo " + origin + ": ref " + source.ref + " starts with '-'");
    }
    Result<std::string> base = git_ok(
        call, {"rev-parse", "--verify", "--quiet", "--end-of-options", source.ref + "^{commit}"});
    if (!base || !is_commit_id(trim(*base))) {
        return input_error("repo " + origin + " has no commit " + source.ref);
    }
    source.base = trim(*base);
    if (!source.bare) {
        Result<std::string> dirty = git_ok(call, {"status", "--porcelain", "--untracked-files=no"});
        if (dirty && !trim(*dirty).empty()) {
            source.note = "uncommitted changes in " + source.origin +
                          " were ignored: the agents start from " + source.ref;
        }
    }
    return source;
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
    if (Result<std::string> made = git_ok(call, {"init", "-q", "--template="}); !made) {
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

// Step 3: the patch and the stat into the run directory, the counts into `repo`.
Status record_diff(GitCall in_clone, const ChangesRequest& request, AgentRepo& repo) {
    const std::vector<std::string> range = {request.source->base, repo.commit};
    const std::vector<std::string> diff = {"diff", "--no-ext-diff", "--no-textconv", "--no-color"};
    const auto with = [&](std::vector<std::string> args, std::initializer_list<const char*> more) {
        args.insert(args.end(), more.begin(), more.end());
        args.insert(args.end(), range.begin(), range.end());
        return args;
    };
    for (const auto& [name, args] :
         {std::pair{request.agent + ".diff", with(diff, {"--binary"})},
          std::pair{request.agent + ".diffstat", with(diff, {"--stat=200,150"})}}) {
        Result<Fd> file = run_file(request.run_dir, name);
        if (!file) {
            return file.error();
        }
        in_clone.stdout_fd = file->get();
        if (Result<std::string> done = git_ok(in_clone, args); !done) {
            return done.error();
        }
    }
    in_clone.stdout_fd = -1;
    Result<std::string> numstat = git_ok(in_clone, with(diff, {"--numstat", "-z"}));
    if (!numstat) {
        return numstat.error();
    }
    count_numstat(*numstat, repo);
    repo.patch = request.run_path + "/" + request.agent + ".diff";
    return Ok{};
}

// Step 4 and the fetch: the branch into the origin through a bundle the runner wrote.
Status fetch_into_origin(GitCall in_clone, const ChangesRequest& request, AgentRepo& repo) {
    const std::string ref = "refs/heads/" + request.branch;
    if (Result<std::string> set = git_ok(in_clone, {"update-ref", ref, repo.commit}); !set) {
        return set.error();
    }
    const std::string bundle = "." + request.agent + ".bundle";
    {
        Result<Fd> file = run_file(request.run_dir, bundle);
        if (!file) {
            return file.error();
        }
        in_clone.stdout_fd = file->get();
        if (Result<std::string> made =
                git_ok(in_clone, {"bundle", "create", "-q", "-", ref, "^" + request.source->base});
            !made) {
            ::unlinkat(request.run_dir, bundle.c_str(), 0);
            return made.error();
        }
    }
    const GitCall in_origin{request.source->origin, request.source->trusted()};
    Result<std::string> fetched = git_ok(
        in_origin, {"-c", "transfer.fsckObjects=true", "fetch", "-q", "--no-tags",
                    "--no-write-fetch-head", request.run_path + "/" + bundle, ref + ":" + ref});
    ::unlinkat(request.run_dir, bundle.c_str(), 0);
    if (!fetched) {
        return Error{ErrorKind::system, "the branch stays in the clone, not in the origin: " +
                                            fetched.error().message};
    }
    repo.in_origin = true;
    return Ok{};
}

} // namespace

AgentRepo collect_changes(const ChangesRequest& request) {
    AgentRepo repo;
    repo.collected = true;
    GitCall in_clone{request.workdir, request.source->trusted(), &request.confinement};
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
    if (Status fetched = fetch_into_origin(in_clone, request, repo); !fetched) {
        repo.error = fetched.error().message;
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
