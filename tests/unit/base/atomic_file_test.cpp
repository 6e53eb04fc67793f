#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "base/atomic_file.hpp"

namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/fl-atomic-XXXXXX";
        m_dir = mkdtemp(pattern);
        m_fd = fleet::Fd(open(m_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }
    void TearDown() override { fs::remove_all(m_dir); }
    std::string read(const std::string& name) {
        std::ifstream in(m_dir + "/" + name);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }
    size_t entries() {
        return static_cast<size_t>(
            std::distance(fs::directory_iterator(m_dir), fs::directory_iterator()));
    }
    std::string m_dir;
    fleet::Fd m_fd;
};

TEST_F(AtomicFileTest, ReplacesTheFileWithTheGivenMode) {
    ASSERT_TRUE(fleet::write_file_atomically(m_fd.get(), "status.json", "one", 0600).ok());
    ASSERT_TRUE(fleet::write_file_atomically(m_fd.get(), "status.json", "two", 0600).ok());
    EXPECT_EQ(read("status.json"), "two");
    EXPECT_EQ(entries(), 1U) << "a temp file was left behind";
    struct stat info {};
    stat((m_dir + "/status.json").c_str(), &info);
    EXPECT_EQ(info.st_mode & 0777, 0600U);
}

TEST_F(AtomicFileTest, AnUncommittedFileLeavesTheOldContentAndNoTemp) {
    ASSERT_TRUE(fleet::write_file_atomically(m_fd.get(), "status.json", "old").ok());
    {
        fleet::AtomicFile file(m_fd.get(), "status.json");
        ASSERT_TRUE(file.open().ok());
        ASSERT_TRUE(file.write("half-writ").ok());
        EXPECT_EQ(entries(), 2U);
    }
    EXPECT_EQ(read("status.json"), "old");
    EXPECT_EQ(entries(), 1U);
}

TEST_F(AtomicFileTest, ReplacesAPlantedSymlinkInsteadOfWritingThroughIt) {
    const std::string target = m_dir + "/target";
    std::ofstream(target) << "precious";
    fs::create_symlink(target, m_dir + "/status.json");
    ASSERT_TRUE(fleet::write_file_atomically(m_fd.get(), "status.json", "new").ok());
    EXPECT_EQ(read("target"), "precious");
    EXPECT_FALSE(fs::is_symlink(m_dir + "/status.json"));
}

} // namespace
