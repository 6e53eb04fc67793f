// The run store in a scratch directory: the runs directory is its constructor's argument and
// the time a run starts its create_run's, so nothing here needs a real run or a real agent.
#include <filesystem>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/atomic_file.hpp"
#include "base/clock.hpp"
#include "runner/run_store.hpp"
#include "support/files.hpp"

namespace {

using fleet::RunState;
using fleet::RunStore;

fleet::WallTime at(const char* text) {
    fleet::WallTime time;
    EXPECT_TRUE(fleet::parse_timestamp(text, time)) << text;
    return time;
}

class RunStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/fleet-run-store-test.XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        m_scratch = pattern;
        m_runs = m_scratch + "/state/fleet-dispatch/runs";
    }
    void TearDown() override { std::filesystem::remove_all(m_scratch); }

    void write_status(const fleet::RunDir& run, RunState state, const std::string& claimed_id) {
        fleet::RunStatus status;
        status.run_id = claimed_id;
        status.state = state;
        status.started_at = "2026-12-01T10:00:00.000Z";
        ASSERT_TRUE(fleet::write_file_atomically(run.dir.get(), "status.json",
                                                 fleet::to_json(status) + "\n"));
    }

    std::string m_scratch, m_runs;
};

TEST_F(RunStoreTest, MakesTheRunsDirectoryPrivate) {
    const RunStore store(m_runs);
    ASSERT_TRUE(store.ensure_exists());
    ASSERT_TRUE(store.ensure_exists()); // again: it exists
    for (const std::string& dir : {m_scratch + "/state", m_runs}) {
        struct stat info {};
        ASSERT_EQ(stat(dir.c_str(), &info), 0);
        EXPECT_EQ(info.st_mode & 07777, 0700U) << dir;
    }
    EXPECT_FALSE(RunStore("relative/runs").ensure_exists());
    fleet::test::write_file(m_scratch + "/file", "", 0600);
    const fleet::Status not_dir = RunStore(m_scratch + "/file").ensure_exists();
    ASSERT_FALSE(not_dir);
    EXPECT_EQ(not_dir.error().message, "runs directory " + m_scratch + "/file is not a directory");
}

// Someone else's directory is no place for our runs (dispatch runs as the agent user there).
TEST_F(RunStoreTest, RefusesARunsDirectoryOfAnotherUser) {
    if (geteuid() != 0) {
        GTEST_SKIP() << "needs root to give the directory away";
    }
    const RunStore store(m_runs);
    ASSERT_TRUE(store.ensure_exists());
    ASSERT_EQ(chown(m_runs.c_str(), 65534, 65534), 0);
    const fleet::Status theirs = store.ensure_exists();
    ASSERT_FALSE(theirs);
    EXPECT_NE(theirs.error().message.find("is owned by uid 65534"), std::string::npos);
}

TEST_F(RunStoreTest, RunsGetDistinctIdsNewestFirst) {
    const RunStore store(m_runs);
    ASSERT_TRUE(store.ensure_exists());
    std::set<std::string> ids;
    for (int i = 0; i < 20; ++i) { // the same second: the suffixes differ
        fleet::Result<fleet::RunDir> run = store.create_run(at("2026-12-01T10:00:00.000Z"));
        ASSERT_TRUE(run) << run.error().message;
        EXPECT_EQ(run->path, m_runs + "/" + run->id);
        EXPECT_EQ(run->id.substr(0, 16), "20261201-100000-");
        ids.insert(run->id);
    }
    EXPECT_EQ(ids.size(), 20U);
    const fleet::Result<fleet::RunDir> later = store.create_run(at("2026-12-02T08:00:00.000Z"));
    ASSERT_TRUE(later);
    std::filesystem::create_directory(m_runs + "/not-a-run");
    const fleet::Result<std::vector<std::string>> listed = store.list_ids();
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 21U); // not-a-run is no run
    EXPECT_EQ(listed->front(), later->id);
    EXPECT_TRUE(RunStore(m_scratch + "/none").list_ids()->empty());
}

TEST_F(RunStoreTest, OpensOnlyValidExistingIds) {
    const RunStore store(m_runs);
    ASSERT_TRUE(store.ensure_exists());
    const fleet::Result<fleet::RunDir> run = store.create_run(at("2026-12-01T10:00:00.000Z"));
    ASSERT_TRUE(run);
    EXPECT_TRUE(store.open_run(run->id));
    const fleet::Result<fleet::RunDir> escape = store.open_run("../../etc");
    ASSERT_FALSE(escape);
    EXPECT_EQ(escape.error().kind, fleet::ErrorKind::invalid_input);
    const fleet::Result<fleet::RunDir> missing = store.open_run("20261201-100000-zzzzzz");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().message, "no run 20261201-100000-zzzzzz in " + m_runs);
    // A run directory replaced by a link is not followed.
    std::filesystem::create_directory_symlink("/etc", m_runs + "/20261201-100000-aaaaaa");
    EXPECT_FALSE(store.open_run("20261201-100000-aaaaaa"));
}

// "running" is what the file says; the lock says whether a runner still holds the run.
TEST_F(RunStoreTest, ARunningRunWithoutItsRunnerIsLost) {
    const RunStore store(m_runs);
    ASSERT_TRUE(store.ensure_exists());
    const fleet::Result<fleet::RunDir> run = store.create_run(at("2026-12-01T10:00:00.000Z"));
    ASSERT_TRUE(run);
    // No status.json yet: running while locked, lost when not.
    fleet::Result<fleet::Fd> lock = fleet::acquire_run_lock(run->dir.get());
    ASSERT_TRUE(lock);
    EXPECT_TRUE(fleet::run_lock_is_held(run->dir.get()));
    EXPECT_FALSE(fleet::acquire_run_lock(run->dir.get())); // one runner per run
    EXPECT_EQ(store.read_status(run->id)->state, RunState::running);
    write_status(*run, RunState::running, "20990101-000000-forged");
    EXPECT_EQ(store.read_status(run->id)->state, RunState::running);
    EXPECT_EQ(store.read_status(run->id)->run_id, run->id); // the directory's name wins
    lock->reset();
    EXPECT_FALSE(fleet::run_lock_is_held(run->dir.get()));
    EXPECT_EQ(store.read_status(run->id)->state, RunState::lost);
    EXPECT_NE(store.read_status_json(run->id)->json.find("\"lost\""), std::string::npos);
    write_status(*run, RunState::succeeded, run->id);
    EXPECT_EQ(store.read_status(run->id)->state, RunState::succeeded);
}

TEST_F(RunStoreTest, AStatusThatIsNoStatusIsAnError) {
    const RunStore store(m_runs);
    ASSERT_TRUE(store.ensure_exists());
    const fleet::Result<fleet::RunDir> run = store.create_run(at("2026-12-01T10:00:00.000Z"));
    ASSERT_TRUE(run);
    fleet::test::write_file(run->path + "/status.json", "{not json", 0600);
    const fleet::Result<fleet::RunStatus> garbage = store.read_status(run->id);
    ASSERT_FALSE(garbage);
    EXPECT_EQ(garbage.error().message.rfind("run " + run->id + ": ", 0), 0U);
    // A status.json planted as a link to another run's is not followed: the run reads as
    // having none yet (lost, as nobody holds its lock).
    std::filesystem::remove(run->path + "/status.json");
    std::filesystem::create_symlink("/etc/passwd", run->path + "/status.json");
    EXPECT_EQ(store.read_status(run->id)->state, RunState::lost);
}

} // namespace
