#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include "runner/agent_repo.hpp"
#include "runner/git.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

constexpr std::chrono::minutes k_collection_budget{3};   // every git after one agent
constexpr size_t k_max_bundle_header = size_t{64} << 10; // its refs and prerequisites

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
        return Error{ErrorKind::system, "git diff --cached: " + first_line_of(staged->err)};
    }
    Result<std::string> head = git_ok(in_clone, {"rev-parse", "--verify", "HEAD^{commit}"});
    if (!head) {
        return head.error();
    }
    if (!is_commit_id(trim_trailing(*head))) {
        return Error{ErrorKind::system, "git rev-parse HEAD: not a commit id"};
    }
    return trim_trailing(*head);
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
    const std::string objects = request.source->objects.front();
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
    in_clone.deadline = GitClock::now() + k_collection_budget;
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

} // namespace fleet
