#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace {

// A scratch directory of its own, removed at the end.
class OpenRegular : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/fleet-io-test.XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        m_dir = pattern;
        m_fd = fleet::Fd(open(pattern, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(m_fd.valid());
    }
    void TearDown() override { std::filesystem::remove_all(m_dir); }

    void write(const std::string& name, const std::string& text) {
        const fleet::Fd file(
            openat(m_fd.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        ASSERT_TRUE(file.valid());
        ASSERT_EQ(fleet::write_all(file.get(), text), 0);
    }

    std::string m_dir;
    fleet::Fd m_fd;
};

TEST_F(OpenRegular, ReadsAFileWhole) {
    write("prompt.txt", "fix the bug\n");
    const fleet::Result<std::string> text = fleet::read_file_at(m_fd.get(), "prompt.txt", 64);
    ASSERT_TRUE(text) << text.error().message;
    EXPECT_EQ(*text, "fix the bug\n");
}

// A planted link, FIFO or directory is refused, not followed or blocked on.
TEST_F(OpenRegular, RefusesWhatIsNotARegularFile) {
    write("secret", "root's");
    ASSERT_EQ(symlinkat("secret", m_fd.get(), "link"), 0);
    ASSERT_EQ(mkfifoat(m_fd.get(), "fifo", 0600), 0);
    ASSERT_EQ(mkdirat(m_fd.get(), "dir", 0700), 0);

    const fleet::Result<fleet::Fd> link = fleet::open_regular_at(m_fd.get(), "link", 64);
    ASSERT_FALSE(link);
    EXPECT_EQ(link.error().message, "link: " + std::string(std::strerror(ELOOP)));
    for (const char* name : {"fifo", "dir"}) {
        const fleet::Result<fleet::Fd> other = fleet::open_regular_at(m_fd.get(), name, 64);
        ASSERT_FALSE(other) << name;
        EXPECT_EQ(other.error().message, std::string(name) + " is not a regular file");
    }
}

TEST_F(OpenRegular, RefusesAFileOverTheLimit) {
    write("big", std::string(65, 'x'));
    write("fits", std::string(64, 'x'));
    const fleet::Result<std::string> big = fleet::read_file_at(m_fd.get(), "big", 64);
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().message, "big has more than 64 bytes");
    EXPECT_TRUE(fleet::read_file_at(m_fd.get(), "fits", 64));
}

// read_fd counts what it reads, not what fstat says: a pipe has no size.
TEST(ReadFd, StopsAtTheLimitOnAPipe) {
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    const fleet::Fd read_end(fds[0]);
    {
        const fleet::Fd write_end(fds[1]);
        ASSERT_EQ(fleet::write_all(write_end.get(), std::string(100, 'y')), 0);
    }
    const fleet::Result<std::string> text = fleet::read_fd(read_end.get(), 99);
    ASSERT_FALSE(text);
    EXPECT_EQ(text.error().message, "more than 99 bytes");
}

TEST(WriteAll, ReturnsTheErrno) {
    const fleet::Fd read_only(open("/dev/null", O_RDONLY | O_CLOEXEC));
    EXPECT_EQ(fleet::write_all(read_only.get(), "x"), EBADF);
    EXPECT_EQ(fleet::write_all(read_only.get(), ""), 0); // nothing to write, nothing written
}

TEST(GrowPipe, GrowsButNeverShrinks) {
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    const fleet::Fd read_end(fds[0]);
    const fleet::Fd write_end(fds[1]);
    ASSERT_EQ(fleet::grow_pipe(read_end.get(), size_t{256} * 1024), 0);
    EXPECT_EQ(fcntl(read_end.get(), F_GETPIPE_SZ), 256 * 1024);
    ASSERT_EQ(fleet::grow_pipe(write_end.get(), size_t{64} * 1024), 0);
    EXPECT_EQ(fcntl(read_end.get(), F_GETPIPE_SZ), 256 * 1024);

    const fleet::Fd file(open("/dev/null", O_RDONLY | O_CLOEXEC));
    EXPECT_EQ(fleet::grow_pipe(file.get(), size_t{64} * 1024), EBADF);
}

// The tree goes, its links with it, and what a link points to stays: the agent's scratch
// directory, with a link to the user's files planted in it.
TEST(RemoveTreeAt, RemovesEverythingButFollowsNoLink) {
    const std::filesystem::path base =
        std::filesystem::temp_directory_path() / ("fl-remove-tree." + std::to_string(getpid()));
    std::filesystem::create_directories(base / "outside");
    std::filesystem::create_directories(base / "tree/a/b/c");
    std::ofstream(base / "outside/keep") << "the user's";
    std::ofstream(base / "tree/a/b/c/file") << "x";
    std::filesystem::create_directory_symlink(base / "outside", base / "tree/a/link");
    std::filesystem::create_symlink(base / "outside/keep", base / "tree/file-link");
    const fleet::Fd parent(open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    EXPECT_EQ(fleet::remove_tree_at(parent.get(), "tree"), 0);
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(base / "tree")));
    EXPECT_TRUE(std::filesystem::exists(base / "outside/keep"));
    EXPECT_EQ(fleet::remove_tree_at(parent.get(), "tree"), 0); // gone already: nothing to do
    // Deeper than allowed: what is within reach goes, the error says why the rest stayed.
    std::filesystem::create_directories(base / "deep/1/2/3");
    EXPECT_EQ(fleet::remove_tree_at(parent.get(), "deep", 1), ELOOP);
    EXPECT_TRUE(std::filesystem::exists(base / "deep/1/2/3"));
    EXPECT_EQ(fleet::remove_tree_at(parent.get(), "deep"), 0);
    std::filesystem::remove_all(base);
}

} // namespace
