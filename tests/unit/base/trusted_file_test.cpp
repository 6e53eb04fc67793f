// The one reader of root-trusted files: each rule refuses with a control that passes. As root
// (the files must be root's); skipped otherwise. The scratch tree is under /tmp, which is
// sticky: Ancestors::sticky_ok passes there, Ancestors::not_writable does not, and below the
// scratch directory the test sets every mode itself.
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/trusted_file.hpp"

namespace {

namespace fs = std::filesystem;
using fleet::Ancestors;
using fleet::IfMissing;
using fleet::Owner;
using fleet::TrustRules;

class TrustedFile : public ::testing::Test {
protected:
    void SetUp() override {
        if (geteuid() != 0) {
            GTEST_SKIP() << "needs root: the files must be root's";
        }
        char pattern[] = "/tmp/fl-trusted-XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        m_dir = pattern;
        chmod(m_dir.c_str(), 0755);
        fs::create_directory(m_dir + "/etc");
        chmod((m_dir + "/etc").c_str(), 0755);
        write("etc/config.toml", "key = 1\n", 0644);
    }
    void TearDown() override {
        if (!m_dir.empty()) {
            fs::remove_all(m_dir);
        }
    }
    void write(const std::string& name, const std::string& text, mode_t mode) {
        std::ofstream(m_dir + "/" + name) << text;
        chmod((m_dir + "/" + name).c_str(), mode);
    }
    fleet::Result<std::optional<std::string>> read(const std::string& name,
                                                   TrustRules rules = sticky()) {
        return fleet::read_trusted_file(m_dir + "/" + name, "file " + name, rules);
    }
    static TrustRules sticky() {
        TrustRules rules;
        rules.ancestors = Ancestors::sticky_ok;
        return rules;
    }
    static std::string why(const fleet::Result<std::optional<std::string>>& result) {
        return result ? "read" : result.error().message;
    }
    std::string m_dir;
};

TEST_F(TrustedFile, ReadsARootOwnedFileInRootOwnedDirectories) {
    const auto text = read("etc/config.toml");
    ASSERT_TRUE(text) << why(text);
    EXPECT_EQ(**text, "key = 1\n");
    // /tmp is world-writable and sticky: fine for sticky_ok, not for not_writable.
    TrustRules strict;
    const auto refused = read("etc/config.toml", strict);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("directory /tmp must be owned by root and not "
                                           "writable by group or others"),
              std::string::npos)
        << why(refused);
}

TEST_F(TrustedFile, RefusesAFileOthersCouldWrite) {
    write("etc/config.toml", "key = 1\n", 0664);
    const auto refused = read("etc/config.toml");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, fleet::ErrorKind::invalid_input);
    EXPECT_NE(refused.error().message.find("has mode 0664, too open (chmod go-w it)"),
              std::string::npos)
        << why(refused);
    TrustRules secret = sticky();
    secret.forbidden = 077;
    write("etc/config.toml", "key = 1\n", 0640);
    EXPECT_FALSE(read("etc/config.toml", secret)); // group may read: not for a 077 secret
    write("etc/config.toml", "key = 1\n", 0600);
    EXPECT_TRUE(read("etc/config.toml", secret)); // control
}

TEST_F(TrustedFile, RefusesAFileOwnedBySomeoneElseUnlessAnyoneWillDo) {
    ASSERT_EQ(chown((m_dir + "/etc/config.toml").c_str(), 65534, 65534), 0);
    EXPECT_FALSE(read("etc/config.toml"));
    TrustRules own = sticky();
    own.owner = Owner::anyone;
    EXPECT_TRUE(read("etc/config.toml", own)); // a plain user's own config
}

TEST_F(TrustedFile, RefusesADirectoryAboveItOthersCouldWrite) {
    chmod((m_dir + "/etc").c_str(), 0775);
    const auto refused = read("etc/config.toml");
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("directory " + m_dir + "/etc"), std::string::npos)
        << why(refused);
    TrustRules group_ok = sticky();
    group_ok.ancestors = Ancestors::group_writable_ok;
    EXPECT_FALSE(read("etc/config.toml", group_ok)) << "/tmp is writable by others";
    chmod((m_dir + "/etc").c_str(), 0755);
    ASSERT_EQ(chown((m_dir + "/etc").c_str(), 65534, 0), 0);
    EXPECT_FALSE(read("etc/config.toml")); // not root's
    ASSERT_EQ(chown((m_dir + "/etc").c_str(), 0, 0), 0);
    EXPECT_TRUE(read("etc/config.toml")); // control
}

TEST_F(TrustedFile, RefusesAPathThroughASymlink) {
    // Through a symlinked directory: a link someone could re-point at another root-only file.
    fs::create_directory_symlink(m_dir + "/etc", m_dir + "/alias");
    const auto refused = read("alias/config.toml");
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("is reached through a symlink (it is " + m_dir +
                                           "/etc/config.toml)"),
              std::string::npos)
        << why(refused);
    EXPECT_TRUE(read("etc/config.toml")); // control: its own name
    EXPECT_TRUE(fleet::read_trusted_file(m_dir + "//etc/./config.toml", "file", sticky()));
    // The file itself as a symlink is refused, even to a trusted file.
    fs::create_symlink(m_dir + "/etc/config.toml", m_dir + "/etc/link.toml");
    EXPECT_FALSE(read("etc/link.toml"));
}

TEST_F(TrustedFile, AFifoIsRefusedWithoutBlocking) {
    ASSERT_EQ(mkfifo((m_dir + "/etc/fifo.toml").c_str(), 0644), 0);
    const auto started = std::chrono::steady_clock::now();
    const auto refused = read("etc/fifo.toml");
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("not a regular file"), std::string::npos)
        << why(refused);
}

TEST_F(TrustedFile, AMissingFileIsAnErrorUnlessAbsentIsAllowed) {
    EXPECT_FALSE(read("etc/missing.toml"));
    TrustRules optional = sticky();
    optional.missing = IfMissing::absent;
    const auto absent = read("etc/missing.toml", optional);
    ASSERT_TRUE(absent) << why(absent);
    EXPECT_FALSE(absent->has_value());
}

TEST_F(TrustedFile, ReadsAtMostMaxBytes) {
    TrustRules small = sticky();
    small.max_bytes = 4;
    EXPECT_FALSE(read("etc/config.toml", small));
    small.max_bytes = 8;
    EXPECT_TRUE(read("etc/config.toml", small));
}

TEST_F(TrustedFile, ADirectoryIsTrustedWhenRootsAndNothingAboveIsOthers) {
    const fleet::Fd dir(open((m_dir + "/etc").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dir.valid());
    EXPECT_FALSE(fleet::check_trusted_directory(dir.get(), "log dir", Ancestors::not_writable))
        << "/tmp is world-writable";
    EXPECT_TRUE(fleet::check_trusted_directory(dir.get(), "log dir", Ancestors::sticky_ok));
    chmod((m_dir + "/etc").c_str(), 0775);
    EXPECT_FALSE(fleet::check_trusted_directory(dir.get(), "log dir", Ancestors::sticky_ok));
}

} // namespace
