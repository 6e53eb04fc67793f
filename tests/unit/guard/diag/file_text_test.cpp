#include <fcntl.h>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "guard/diag/file_text.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {
namespace {

TEST(DiagFileText, FirstAndLastLines) {
    EXPECT_EQ(first_lines("a\nb\nc\n", 2), "a\nb\n");
    EXPECT_EQ(first_lines("a\nb", 5), "a\nb");
    EXPECT_EQ(first_lines("a\n", 0), "");
    EXPECT_EQ(last_lines("a\nb\nc\n", 2), "b\nc\n");
    EXPECT_EQ(last_lines("a\nb\nc", 1), "c"); // an unfinished last line is a line
    EXPECT_EQ(last_lines("a\nb\n", 9), "a\nb\n");
    EXPECT_EQ(last_lines("", 3), "");
}

TEST(DiagFileText, KindsAndModes) {
    EXPECT_EQ(mode_string(S_IFREG | 0640), "-rw-r-----");
    EXPECT_EQ(mode_string(S_IFDIR | 0755), "drwxr-xr-x");
    EXPECT_EQ(mode_string(S_IFLNK | 0777), "lrwxrwxrwx");
    EXPECT_EQ(type_name(S_IFIFO), "fifo");
    EXPECT_EQ(type_name(S_IFCHR), "device");
}

class DiagFileRead : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/fleet-file-text-test.XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        m_dir = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(m_dir); }

    Fd file(const std::string& name, const std::string& text) {
        const std::string path = m_dir + "/" + name;
        {
            const Fd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
            EXPECT_EQ(write_all(out.get(), text), 0);
        }
        return Fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    }

    std::string m_dir;
};

TEST_F(DiagFileRead, ReadsAreCapped) {
    const Fd fd = file("f", std::string(100, 'x'));
    bool truncated = false;
    EXPECT_EQ(read_capped(fd.get(), 40, truncated)->size(), 40U);
    EXPECT_TRUE(truncated);
    const Fd small = file("g", "short");
    truncated = false;
    EXPECT_EQ(*read_capped(small.get(), 40, truncated), "short");
    EXPECT_FALSE(truncated);
}

// tail reads the end of the file only, never more than the cap.
TEST_F(DiagFileRead, TailReadsFromTheEnd) {
    const std::string text = std::string(1000, 'x') + "\nlast one\nlast two\n";
    const Fd fd = file("log", text);
    struct stat info {};
    ASSERT_EQ(fstat(fd.get(), &info), 0);
    bool truncated = false;
    EXPECT_EQ(*tail_of(fd.get(), info, 2, 64, truncated), "last one\nlast two\n");
    EXPECT_FALSE(truncated);
    // Three lines do not fit in 64 bytes: the cut is said.
    const std::string cut = *tail_of(fd.get(), info, 3, 64, truncated);
    EXPECT_EQ(cut.size(), 64U);
    EXPECT_TRUE(truncated);
}

TEST_F(DiagFileRead, ListsSortedDotFilesOnlyWithA) {
    file("b", "");
    file("a", "");
    file(".hidden", "");
    const Fd dir(::open(m_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    DiagRequest request;
    bool truncated = false;
    EXPECT_EQ(*list_directory(dir.get(), request, 4096, truncated), "a\nb\n");
    request.all = true;
    EXPECT_EQ(*list_directory(dir.get(), request, 4096, truncated), ".\n..\n.hidden\na\nb\n");
    request.long_format = true;
    request.all = false;
    const std::string long_text = *list_directory(dir.get(), request, 4096, truncated);
    EXPECT_EQ(long_text.rfind("-rw-r--r-- 1 root root 0 ", 0), 0U) << long_text;
    EXPECT_EQ(long_text.substr(long_text.size() - 2), "b\n");
    EXPECT_FALSE(truncated);
    EXPECT_EQ(*list_directory(dir.get(), request, 10, truncated), "");
    EXPECT_TRUE(truncated);
}

TEST_F(DiagFileRead, StatSaysWhatAndWhose) {
    const Fd fd = file("f", "12345");
    struct stat info {};
    ASSERT_EQ(fstat(fd.get(), &info), 0);
    const std::string text = stat_text("/srv/f", info);
    EXPECT_NE(text.find("  File: /srv/f\n  Type: regular file\n  Size: 5\n  Mode: -rw-r--r--\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find(" Owner: root (0)\n"), std::string::npos) << text;
    EXPECT_EQ(text.substr(text.size() - 5), " UTC\n");
}

} // namespace
} // namespace fleet
