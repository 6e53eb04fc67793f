// Working on a repository, as root with a real user, real git and the agents' real confinement
// (docs/dispatch.md, "Working on a repository"): a clone per agent on its own branch, what it
// changed committed, diffed and imported into the origin; what an agent planted in its clone's
// config run by nothing outside its confinement (the control: the same plants with confine =
// "off", where its filter runs as the agent itself would); the origin never written by an agent;
// bad origins refused before anything starts; bare, linked, dirty, root-owned and other-filesystem
// origins; two runs at once; prune removing a run's branches and no other ref.
#include <algorithm>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/process.hpp"
#include "support/runner_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using fleet::test::ProcessResult;
using fleet::test::read_file;
using fleet::test::run_id_of;
using fleet::test::write_file;
using nlohmann::json;

class Repo : public fleet::test::RunnerFixture {
protected:
    static void SetUpTestSuite() {
        set_up_runner("g", "repo");
        s_agent = s_dir + "/repo-agent";
        fs::copy_file(std::string(FLEET_SOURCE_DIR) + "/tests/support/repo-agent", s_agent);
        chmod(s_agent.c_str(), 0755);
        s_markers = s_dir + "/markers";
        fs::create_directory(s_markers);
        ASSERT_EQ(chown(s_markers.c_str(), s_uid, static_cast<gid_t>(-1)), 0);
        chmod(s_markers.c_str(), 0700);
        std::string text = "user = \"" + s_user + "\"\ngrace = \"1s\"\n";
        const auto agent = [&](const std::string& name, const std::string& args,
                               const std::string& extra) {
            text +=
                "[agents." + name + "]\ncommand = [\"" + s_agent + "\", " + args + "]\n" + extra;
        };
        agent("edit", "\"edit\"", "");
        agent("commit", "\"commit\"", "");
        agent("idle", "\"nothing\"", "");
        agent("plant", "\"plant\", \"" + s_markers + "\"", "");
        agent("plant-off", "\"plant\", \"" + s_markers + "\"", "confine = \"off\"\n");
        agent("origin", "\"origin\", \"" + s_dir + "/origin\"", "");
        agent("origin-off", "\"origin\", \"" + s_dir + "/origin\"", "confine = \"off\"\n");
        agent("escape", "\"escape\"", "");
        agent("back", "\"back\"", "");
        agent("badtree", "\"badtree\"", "");
        agent("bp", "\"blueprint\"", "");
        write_file(s_config, text, 0644);
    }

    void SetUp() override { s_origin = make_origin(s_dir + "/origin"); }

    void TearDown() override {
        fs::remove_all(s_dir + "/origin");
        for (const auto& entry : fs::directory_iterator(s_markers)) {
            fs::remove(entry.path());
        }
    }

    // git as root, in `dir` (the repositories are the user's: safe.directory).
    static std::string git(const std::string& dir, std::vector<std::string> args) {
        std::vector<std::string> argv = {"/usr/bin/git", "-c", "safe.directory=*", "-C", dir};
        argv.insert(argv.end(), args.begin(), args.end());
        return fleet::test::run(argv).out;
    }
    static bool has_ref(const std::string& dir, const std::string& ref) {
        return fleet::test::run({"/usr/bin/git", "-c", "safe.directory=*", "-C", dir, "show-ref",
                                 "--verify", "-q", ref})
                   .exit_code == 0;
    }

    // A repository with f1..f3.txt and a .gitignore on main, and a branch "other"; the user's.
    static std::string make_origin(const std::string& path, bool bare = false) {
        fs::create_directories(path);
        const std::string work = bare ? path + ".work" : path;
        fleet::test::run_ok({"/usr/bin/git", "init", "-q", "-b", "main", work});
        for (const char* name : {"f1.txt", "f2.txt", "f3.txt"}) {
            write_file(work + "/" + name, std::string("line of ") + name + "\n", 0644);
        }
        write_file(work + "/.gitignore", "ignored.log\n", 0644);
        fleet::test::run_ok({"/bin/sh", "-c",
                             "cd \"$0\" && git add -A && git -c user.name=t -c user.email=t@x "
                             "commit -qm init && git branch other",
                             work});
        if (bare) {
            fs::remove_all(path);
            fleet::test::run_ok({"/usr/bin/git", "clone", "-q", "--bare", work, path});
            fs::remove_all(work);
        }
        fleet::test::run_ok({"/bin/chown", "-R", s_user + ":", path});
        return path;
    }

    // dispatch -a AGENTS --repo REPO run PROMPT: the run id, its status.json.
    static std::pair<std::string, json> run_on(const std::string& agents, const std::string& repo,
                                               ProcessResult* out = nullptr) {
        const ProcessResult result =
            dispatch({"-a", agents, "--repo", repo, "run", "Fix the failing test\nin detail"});
        if (out != nullptr) {
            *out = result;
        }
        const std::string id = run_id_of(result.out);
        EXPECT_FALSE(id.empty()) << result.out << result.err;
        return {id, id.empty() ? json::object() : status_json(id)};
    }

    static size_t runs() {
        return fs::exists(s_runs) ? static_cast<size_t>(std::distance(
                                        fs::directory_iterator(s_runs), fs::directory_iterator()))
                                  : 0;
    }

    static inline std::string s_agent, s_markers, s_origin;
};

TEST_F(Repo, EachAgentGetsItsOwnCloneAndItsChangesComeBackAsABranch) {
    ProcessResult result;
    const auto [id, status] = run_on("edit,idle", s_origin + "@main", &result);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    const json edit = agent_of(status, "edit").at("repo");
    EXPECT_EQ(edit.at("changed"), true);
    EXPECT_EQ(edit.at("files"), 3) << edit; // f1 changed, f3 removed, new.txt; not ignored.log
    EXPECT_EQ(edit.at("insertions"), 2);
    EXPECT_EQ(edit.at("deletions"), 1);
    EXPECT_EQ(edit.at("in_origin"), true) << edit;
    EXPECT_EQ(edit.at("base"), fleet::test::lines_of(git(s_origin, {"rev-parse", "main"}))[0]);
    const std::string branch = "fleet/" + id + "/edit";
    EXPECT_EQ(edit.at("branch"), branch);
    const std::string names = git(s_origin, {"diff", "--name-status", "main", branch});
    EXPECT_EQ(names, "M\tf1.txt\nD\tf3.txt\nA\tnew.txt\n");
    EXPECT_EQ(git(s_origin, {"log", "-1", "--format=%an|%s", branch}),
              "fleet-dispatch|fleet-dispatch " + id + " edit: Fix the failing test\n");
    EXPECT_NE(read_file(run_dir(id) + "/edit.diff").find("+changed by edit"), std::string::npos);
    // idle changed nothing: recorded so, and no branch.
    const json idle = agent_of(status, "idle").at("repo");
    EXPECT_EQ(idle.at("changed"), false);
    EXPECT_FALSE(idle.contains("branch"));
    EXPECT_FALSE(has_ref(s_origin, "refs/heads/fleet/" + id + "/idle"));
    EXPECT_TRUE(has_ref(s_origin, "refs/heads/" + branch)); // the control
    EXPECT_NE(result.out.find("3 files, +2 -1"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("no changes"), std::string::npos) << result.out;

    // Each clone borrows the origin's objects, read-only: none of its files is linked to them.
    const std::string clone = run_dir(id) + "/work-edit";
    EXPECT_EQ(read_file(clone + "/.git/objects/info/alternates"), s_origin + "/.git/objects\n");
    for (const auto& entry : fs::recursive_directory_iterator(s_origin + "/.git/objects")) {
        if (entry.is_regular_file()) {
            EXPECT_EQ(fs::hard_link_count(entry.path()), 1U) << entry.path();
        }
    }

    const ProcessResult patch = dispatch({"diff", id, "--agent", "edit"});
    EXPECT_EQ(patch.exit_code, 0) << patch.err;
    EXPECT_EQ(patch.out, read_file(run_dir(id) + "/edit.diff"));
    const ProcessResult stat = dispatch({"diff", id, "--stat"});
    EXPECT_EQ(stat.exit_code, 0) << stat.err;
    EXPECT_NE(stat.out.find("edit: 3 files, +2 -1 on " + branch + "\n"), std::string::npos)
        << stat.out;
    EXPECT_NE(stat.out.find("idle: no changes\n"), std::string::npos) << stat.out;
    const ProcessResult nobody = dispatch({"diff", id, "--agent", "nobody"});
    EXPECT_EQ(nobody.exit_code, 2);
}

TEST_F(Repo, AnAgentsOwnCommitsAndWhatItLeftUncommittedAreBothOnItsBranch) {
    const auto [id, status] = run_on("commit", s_origin);
    const json repo = agent_of(status, "commit").at("repo");
    EXPECT_EQ(repo.at("ref"), "HEAD");
    EXPECT_EQ(repo.at("files"), 2) << repo;
    EXPECT_EQ(git(s_origin, {"log", "--format=%an", "main.." + repo.value("branch", "x")}),
              "fleet-dispatch\nagent\n");
}

TEST_F(Repo, GitRunsNothingTheAgentPlantedOutsideItsConfinement) {
    // The markers' directory is the user's: a command run as the user, unconfined, writes there.
    EXPECT_EQ(fleet::test::run({"/usr/sbin/runuser", "-u", s_user, "--", "/usr/bin/touch",
                                s_markers + "/control"})
                  .exit_code,
              0);
    const auto [id, status] = run_on("plant", s_origin);
    EXPECT_NE(read_file(run_dir(id) + "/plant.log").find("agent refused"), std::string::npos);
    const json repo = agent_of(status, "plant").at("repo");
    EXPECT_EQ(repo.at("changed"), true) << repo; // committed all the same
    EXPECT_EQ(repo.at("in_origin"), true) << repo;
    std::vector<std::string> written;
    for (const auto& entry : fs::directory_iterator(s_markers)) {
        written.push_back(entry.path().filename());
    }
    EXPECT_EQ(written, std::vector<std::string>{"control"});

    // The control: unconfined (confine = "off"), the agent's own filter runs, as the agent
    // itself could; what dispatch switches off (fsmonitor, hooks, diff drivers, textconv,
    // signing) still does not.
    fs::remove(s_markers + "/control");
    const auto [off_id, off_status] = run_on("plant-off", s_origin);
    EXPECT_EQ(agent_of(off_status, "plant-off").at("repo").at("changed"), true);
    written.clear();
    for (const auto& entry : fs::directory_iterator(s_markers)) {
        written.push_back(entry.path().filename());
    }
    std::sort(written.begin(), written.end());
    EXPECT_EQ(written, (std::vector<std::string>{"agent", "filter"}));
}

TEST_F(Repo, DiffEscapesTheAgentsTextForAReaderAndRawKeepsItsBytes) {
    const auto [id, status] = run_on("escape", s_origin);
    ASSERT_EQ(agent_of(status, "escape").at("repo").at("changed"), true);
    const ProcessResult shown = dispatch({"diff", id}); // a pipe: a terminal may sit behind it
    EXPECT_EQ(shown.exit_code, 0) << shown.err;
    EXPECT_NE(shown.out.find("+before "), std::string::npos) << shown.out; // the control
    EXPECT_EQ(shown.out.find('\x1b'), std::string::npos) << shown.out;
    const ProcessResult raw = dispatch({"diff", id, "--raw"});
    EXPECT_NE(raw.out.find("\x1b]52;c;aGk=\x07"), std::string::npos) << raw.out;
}

// What an agent sends the origin is checked object by object before it lands: a tree fsck
// refuses leaves no ref and nothing in the origin's objects (the quarantine is gone). The
// control: EachAgentGetsItsOwnClone… lands its branch through the same import.
TEST_F(Repo, ObjectsFsckRefusesNeverReachTheOrigin) {
    const auto count_objects = [] {
        size_t n = 0;
        for (const auto& entry : fs::recursive_directory_iterator(s_origin + "/.git/objects")) {
            n += entry.is_regular_file() ? 1 : 0;
        }
        return n;
    };
    const size_t before = count_objects();
    const auto [id, status] = run_on("badtree", s_origin);
    const json repo = agent_of(status, "badtree").at("repo");
    EXPECT_EQ(repo.at("changed"), true) << repo;
    EXPECT_EQ(repo.at("in_origin"), false) << repo;
    EXPECT_NE(repo.value("error", "").find("index-pack"), std::string::npos) << repo;
    EXPECT_FALSE(has_ref(s_origin, "refs/heads/fleet/" + id + "/badtree"));
    EXPECT_EQ(count_objects(), before);
    EXPECT_TRUE(fs::exists(run_dir(id) + "/badtree.diff")); // the patch stays in the run
}

TEST_F(Repo, AnAgentThatWentBackInHistoryGetsABranchAtThatCommit) {
    write_file(s_origin + "/f1.txt", "second\n", 0644);
    git(s_origin, {"-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qam", "second"});
    const std::string parent = fleet::test::lines_of(git(s_origin, {"rev-parse", "main~1"}))[0];
    const auto [id, status] = run_on("back", s_origin);
    const json repo = agent_of(status, "back").at("repo");
    EXPECT_EQ(repo.at("commit"), parent) << repo;
    EXPECT_EQ(repo.at("in_origin"), true) << repo;
    EXPECT_EQ(fleet::test::lines_of(git(s_origin, {"rev-parse", "fleet/" + id + "/back"}))[0],
              parent);
}

TEST_F(Repo, TheOriginIsReadableAndNeverWritableByAnAgent) {
    const auto [id, status] = run_on("origin", s_origin);
    const std::string log = read_file(run_dir(id) + "/origin.log");
    EXPECT_EQ(log.find("WROTE"), std::string::npos) << log;
    EXPECT_EQ(fleet::test::lines_of(log).size(), 3U) << log;
    EXPECT_FALSE(fs::exists(s_origin + "/agent-was-here"));
    EXPECT_FALSE(has_ref(s_origin, "refs/heads/agent-ref"));
    EXPECT_FALSE(has_ref(s_origin, "refs/heads/agent-push"));
    EXPECT_EQ(agent_of(status, "origin").at("repo").at("in_origin"), true); // dispatch's import
    // The control: unconfined, the same agent writes into the origin (it is the user's).
    const auto [off_id, off_status] = run_on("origin-off", s_origin);
    EXPECT_NE(read_file(run_dir(off_id) + "/origin-off.log").find("WROTE"), std::string::npos);
    EXPECT_TRUE(fs::exists(s_origin + "/agent-was-here"));
}

TEST_F(Repo, BadOriginsAreOneLineUsageErrorsAndStartNothing) {
    fs::create_directories(s_dir + "/plain");
    const std::string hidden = make_origin(s_dir + "/hidden");
    const std::string dotfile = make_origin("/home/" + s_user + "/.dotrepo");
    const std::string other = make_origin(s_dir + "/other");
    fleet::test::run_ok({"/bin/chown", "-R", "nobody:", other});
    ASSERT_EQ(chown(hidden.c_str(), 0, 0), 0);
    chmod(hidden.c_str(), 0700);
    const size_t before = runs();
    for (const auto& [repo, message] : std::vector<std::pair<std::string, std::string>>{
             {s_dir + "/nowhere", "repo " + s_dir + "/nowhere: No such file or directory"},
             {s_dir + "/plain", "repo " + s_dir + "/plain is not a git repository"},
             {s_origin + "@nope", "repo " + s_origin + " has no commit nope"},
             {hidden, "repo " + hidden + " cannot be read: Permission denied"},
             {dotfile, "is in a dotfile of the user's home"},
             {other, "repo " + other + ": " + other + " is owned by another user"},
         }) {
        const ProcessResult result = dispatch({"-a", "edit", "--repo", repo, "run", "go"});
        EXPECT_EQ(result.exit_code, 2) << repo << result.err;
        EXPECT_NE(result.err.find(message), std::string::npos) << result.err;
        EXPECT_EQ(fleet::test::lines_of(result.err).size(), 1U) << result.err;
    }
    EXPECT_EQ(runs(), before);
    fs::remove_all(hidden);
    fs::remove_all(dotfile);
    fs::remove_all(other);

    // An origin an agent of the config may write: git would run its config unconfined.
    const std::string config = s_dir + "/writer.toml";
    write_file(config,
               read_file(s_config) + "[agents.writer]\ncommand = [\"/bin/true\"]\nwrite = [\"" +
                   s_dir + "\"]\n",
               0644);
    const ProcessResult refused =
        dispatch({"-a", "edit", "--repo", s_origin, "run", "go"}, {}, config);
    EXPECT_EQ(refused.exit_code, 2) << refused.err;
    EXPECT_NE(refused.err.find("agents.writer may write it"), std::string::npos) << refused.err;
    EXPECT_EQ(runs(), before); // the control: the same run without that agent works (above)
}

TEST_F(Repo, BareLinkedDirtyRootOwnedAndOtherFilesystemOriginsWork) {
    const std::string bare = make_origin(s_dir + "/bare.git", true);
    git(s_origin, {"worktree", "add", "-q", s_dir + "/linked", "other"});
    fleet::test::run_ok({"/bin/chown", "-R", s_user + ":", s_dir + "/linked", s_origin});
    const std::string shm = make_origin("/dev/shm/fl-repo-test-" + std::to_string(getpid()));
    for (const std::string& origin : {bare, s_dir + "/linked", shm}) {
        const auto [id, status] = run_on("edit", origin);
        const json repo = agent_of(status, "edit").at("repo");
        ASSERT_TRUE(repo.contains("changed")) << origin << status;
        EXPECT_EQ(repo.at("changed"), true) << origin << repo;
        EXPECT_EQ(repo.at("in_origin"), true) << origin << repo;
        EXPECT_TRUE(has_ref(origin, "refs/heads/fleet/" + id + "/edit")) << origin;
    }
    fs::remove_all(bare);
    fs::remove_all(shm);

    // Dirty: the agents start from the commit, and the note says the working tree was ignored.
    write_file(s_origin + "/f2.txt", "uncommitted\n", 0644);
    auto [id, status] = run_on("edit", s_origin);
    json repo = agent_of(status, "edit").at("repo");
    EXPECT_NE(repo.value("note", "").find("uncommitted changes"), std::string::npos) << repo;
    EXPECT_EQ(read_file(run_dir(id) + "/work-edit/f2.txt"), "line of f2.txt\n");

    // Root's, readable: the branch stays in the clone, the patch in the run directory.
    fleet::test::run_ok({"/bin/chown", "-R", "root:", s_origin});
    std::tie(id, status) = run_on("edit", s_origin);
    repo = agent_of(status, "edit").at("repo");
    ASSERT_TRUE(repo.contains("changed")) << status;
    EXPECT_EQ(repo.at("changed"), true) << repo;
    EXPECT_EQ(repo.at("in_origin"), false) << repo;
    EXPECT_NE(repo.value("error", "").find("stays in the clone"), std::string::npos) << repo;
    EXPECT_TRUE(fs::exists(run_dir(id) + "/edit.diff"));
}

TEST_F(Repo, TwoRunsAtOnceOnOneOriginNeverCollide) {
    std::vector<fleet::test::Started> started;
    started.reserve(2);
    for (int i = 0; i < 2; ++i) {
        started.push_back(fleet::test::start(
            {DISPATCH_PATH, "-c", s_config, "-a", "edit,commit", "--repo", s_origin, "run", "go"}));
    }
    for (fleet::test::Started& one : started) {
        const ProcessResult result = fleet::test::finish(one);
        EXPECT_EQ(result.exit_code, 0) << result.err;
        const std::string id = run_id_of(result.out);
        for (const char* agent : {"edit", "commit"}) {
            EXPECT_TRUE(has_ref(s_origin, "refs/heads/fleet/" + id + "/" + agent)) << id;
        }
    }
}

TEST_F(Repo, PruneRemovesTheRunsBranchesAndNoOtherRef) {
    const auto [id, status] = run_on("edit", s_origin);
    git(s_origin, {"branch", "fleet/kept"});
    ASSERT_TRUE(has_ref(s_origin, "refs/heads/fleet/" + id + "/edit"));
    const ProcessResult pruned = dispatch({"prune", "--keep", "0"});
    EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
    EXPECT_NE(pruned.out.find("removed 1 branch fleet/" + id + "/* from " + s_origin),
              std::string::npos)
        << pruned.out;
    EXPECT_FALSE(has_ref(s_origin, "refs/heads/fleet/" + id + "/edit"));
    for (const char* kept : {"main", "other", "fleet/kept"}) {
        EXPECT_TRUE(has_ref(s_origin, std::string("refs/heads/") + kept)) << kept;
    }
}

TEST_F(Repo, TheBlueprintTaskWorksOnARepositoryAndItsPlanIsNoChange) {
    const ProcessResult result =
        dispatch({"-a", "bp", "--repo", s_origin, "blueprint", "Add a cache"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    const std::string id = run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out;
    EXPECT_EQ(read_file(run_dir(id) + "/bp.blueprint.md"), "# Blueprint\n\n1. Fix it\n");
    EXPECT_EQ(agent_of(status_json(id), "bp").at("repo").at("changed"), false);
    EXPECT_NE(read_file(run_dir(id) + "/prompt.txt").find("repository"), std::string::npos);
}

TEST_F(Repo, RepoKeysAreCheckedLikeEveryOther) {
    for (const auto& [text, message] : std::vector<std::pair<std::string, std::string>>{
             {"repo = \"srv/app\"\n", "agents.x.repo: must be an absolute path"},
             {"repo = \"/srv\"\nworkdir = \"/srv\"\n", "agents.x.repo: excludes workdir"},
             {"ref = \"main\"\n", "agents.x.ref: needs a repo"},
         }) {
        const std::string config = s_dir + "/bad.toml";
        write_file(config,
                   "user = \"" + s_user + "\"\n[agents.x]\ncommand = [\"/bin/true\"]\n" + text,
                   0644);
        const ProcessResult result = dispatch({"-a", "x", "run", "go"}, {}, config);
        EXPECT_EQ(result.exit_code, 2) << text;
        EXPECT_NE(result.err.find(message), std::string::npos) << result.err;
    }
    // The control: an agent's own repo and ref, shown by `config` and used by a run.
    const std::string good = s_dir + "/good.toml";
    write_file(good,
               "user = \"" + s_user + "\"\n[agents.x]\ncommand = [\"/bin/true\"]\nrepo = \"" +
                   s_origin + "\"\nref = \"other\"\n",
               0644);
    const ProcessResult shown = dispatch({"config"}, {}, good);
    EXPECT_NE(shown.out.find("repo = \"" + s_origin + "\"\nref = \"other\"\n"), std::string::npos)
        << shown.out;
    const ProcessResult ran = dispatch({"-a", "x", "run", "go"}, {}, good);
    const std::string id = run_id_of(ran.out);
    ASSERT_FALSE(id.empty()) << ran.out << ran.err;
    const json repo = agent_of(status_json(id, good), "x").at("repo");
    EXPECT_EQ(repo.at("ref"), "other");
    EXPECT_EQ(repo.at("base"), fleet::test::lines_of(git(s_origin, {"rev-parse", "other"}))[0]);
}

} // namespace
