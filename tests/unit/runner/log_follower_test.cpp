// `dispatch logs` without dispatch: a scratch run store, logs written by the test (in a thread
// when following), the console a file.
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/atomic_file.hpp"
#include "runner/log_follower.hpp"
#include "support/files.hpp"
#include "sys/io.hpp"

namespace {

using namespace std::chrono_literals;

class LogFollower : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/fleet-log-follower-test.XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        m_scratch = pattern;
        m_store.emplace(m_scratch + "/runs");
        ASSERT_TRUE(m_store->ensure_exists());
        fleet::Result<fleet::RunDir> run = m_store->create_run(std::chrono::system_clock::now());
        ASSERT_TRUE(run);
        m_run = std::move(*run);
        m_console_path = m_scratch + "/console";
        m_console_fd =
            fleet::Fd(open(m_console_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        ASSERT_TRUE(m_console_fd.valid());
    }
    void TearDown() override { std::filesystem::remove_all(m_scratch); }

    void append(const std::string& agent, const std::string& text) const {
        const fleet::Fd log(open((m_run.path + "/" + agent + ".log").c_str(),
                                 O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
        ASSERT_EQ(fleet::write_all(log.get(), text), 0);
    }

    void set_state(fleet::RunState state) const {
        fleet::RunStatus status;
        status.run_id = m_run.id;
        status.state = state;
        ASSERT_TRUE(fleet::write_file_atomically(m_run.dir.get(), "status.json",
                                                 fleet::to_json(status) + "\n"));
    }

    fleet::Status copy(const std::vector<std::string>& agents, fleet::FollowOptions options) {
        fleet::Console console(m_console_fd.get(), fleet::AgentText::raw);
        options.poll = 10ms;
        return fleet::copy_logs(*m_store, m_run, agents, options, console);
    }

    std::string console() const { return fleet::test::read_file(m_console_path); }

    std::string m_scratch, m_console_path;
    std::optional<fleet::RunStore> m_store;
    fleet::RunDir m_run;
    fleet::Fd m_console_fd;
};

TEST(TailOffset, FindsTheLastLines) {
    char pattern[] = "/tmp/fleet-tail-test.XXXXXX";
    const fleet::Fd fd(mkstemp(pattern));
    unlink(pattern);
    ASSERT_EQ(fleet::write_all(fd.get(), "one\ntwo\nthree\n"), 0);
    EXPECT_EQ(fleet::tail_offset(fd.get(), 1), 8); // "three\n"
    EXPECT_EQ(fleet::tail_offset(fd.get(), 2), 4); // "two\nthree\n"
    EXPECT_EQ(fleet::tail_offset(fd.get(), 3), 0);
    EXPECT_EQ(fleet::tail_offset(fd.get(), 10), 0); // fewer lines: all of them
    EXPECT_EQ(fleet::tail_offset(fd.get(), 0), 14); // none
    ASSERT_EQ(fleet::write_all(fd.get(), "unfinished"), 0);
    EXPECT_EQ(fleet::tail_offset(fd.get(), 1), 14); // an unfinished last line counts
    // Lines across the 64 KiB blocks it reads backwards in.
    ASSERT_EQ(fleet::write_all(fd.get(), "\n" + std::string(100000, 'x') + "\nlast\n"), 0);
    EXPECT_EQ(fleet::tail_offset(fd.get(), 2), 25);
}

TEST_F(LogFollower, CopiesOneLogAsItIs) {
    append("a", "raw \x1b[31m bytes\nno newline");
    ASSERT_TRUE(copy({"a"}, {}));
    EXPECT_EQ(console(), "raw \x1b[31m bytes\nno newline");
}

TEST_F(LogFollower, SeveralLogsArePrefixedLineByLine) {
    append("a", "a1\na2");
    append("b", "b1\n");
    fleet::FollowOptions options;
    options.tail = 1;
    ASSERT_TRUE(copy({"a", "b"}, options));
    // a's unfinished line waits for its end, so no other agent's line can be glued to it.
    EXPECT_EQ(console(), "[b] b1\n[a] a2\n");
}

// Following: what arrives while the run goes on, then everything up to its end.
TEST_F(LogFollower, FollowsUntilTheRunEnds) {
    fleet::Result<fleet::Fd> lock = fleet::acquire_run_lock(m_run.dir.get());
    ASSERT_TRUE(lock);
    set_state(fleet::RunState::running);
    std::thread writer([&] {
        std::this_thread::sleep_for(50ms);
        append("late", "started\n"); // its log appears while the follower waits
        for (int i = 0; i < 5; ++i) {
            std::this_thread::sleep_for(20ms);
            append("late", "line " + std::to_string(i) + "\n");
        }
        append("late", "last words\n");
        set_state(fleet::RunState::succeeded);
        lock->reset();
    });
    fleet::FollowOptions options;
    options.follow = true;
    const fleet::Status copied = copy({"late"}, options);
    writer.join();
    ASSERT_TRUE(copied) << copied.error().message;
    EXPECT_EQ(console(), "started\nline 0\nline 1\nline 2\nline 3\nline 4\nlast words\n");
}

// A run whose runner is gone (lost) ends the follow too.
TEST_F(LogFollower, ALostRunEndsTheFollow) {
    set_state(fleet::RunState::running); // nobody holds the lock
    append("a", "x\n");
    fleet::FollowOptions options;
    options.follow = true;
    ASSERT_TRUE(copy({"a"}, options));
    EXPECT_EQ(console(), "x\n");
}

TEST_F(LogFollower, RefusesWhatIsNoLog) {
    const fleet::Status missing = copy({"absent"}, {});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().message.rfind("run " + m_run.id + ": absent.log: ", 0), 0U)
        << missing.error().message;
    std::filesystem::create_symlink("/etc/shadow", m_run.path + "/planted.log");
    EXPECT_FALSE(copy({"planted"}, {}));
    fleet::FollowOptions options;
    options.follow = true;
    EXPECT_FALSE(copy({"planted"}, options)); // a link is there: no waiting for it
    EXPECT_EQ(console(), "");
}

} // namespace
