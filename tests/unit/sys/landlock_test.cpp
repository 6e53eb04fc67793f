#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/prctl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/child.hpp"
#include "sys/landlock.hpp"

namespace {

namespace fs = std::filesystem;
using fleet::LandlockRuleset;
using fleet::PathMissing;
namespace landlock = fleet::landlock;

// An errno as the child's exit code: 0 for success.
int open_errno(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno;
    }
    ::close(fd);
    return 0;
}

class Landlock : public ::testing::Test {
protected:
    void SetUp() override {
        m_abi = fleet::landlock_abi();
        if (m_abi == 0) {
            GTEST_SKIP() << "this kernel has no Landlock";
        }
        m_dir = fs::temp_directory_path() / ("fl-landlock." + std::to_string(::getpid()));
        fs::create_directories(m_dir + "/granted/own");
        fs::create_directories(m_dir + "/denied");
        std::ofstream(m_dir + "/granted/file") << "granted";
        std::ofstream(m_dir + "/denied/file") << "secret";
    }
    void TearDown() override {
        if (!m_dir.empty()) {
            fs::remove_all(m_dir);
        }
    }

    // A ruleset like an agent's: read beneath granted/, write beneath granted/own/.
    LandlockRuleset agent_ruleset() const {
        fleet::Result<LandlockRuleset> ruleset = LandlockRuleset::create(m_abi, false);
        EXPECT_TRUE(ruleset) << ruleset.error().message;
        EXPECT_TRUE(
            *ruleset->allow_beneath(m_dir + "/granted", landlock::k_read, PathMissing::fail));
        EXPECT_TRUE(
            *ruleset->allow_beneath(m_dir + "/granted/own", landlock::k_write, PathMissing::fail));
        return std::move(*ruleset);
    }

    int m_abi = 0;
    std::string m_dir;
};

TEST(LandlockHandled, FollowsTheAbi) {
    using namespace landlock;
    const auto first = fleet::landlock_handled(1, true);
    EXPECT_EQ(first.fs & (k_refer | k_truncate | k_ioctl_dev), 0U);
    EXPECT_NE(first.fs & k_make_sym, 0U);
    EXPECT_EQ(first.net, 0U); // TCP rules came with ABI 4
    EXPECT_EQ(first.scoped, 0U);
    const auto third = fleet::landlock_handled(3, true);
    EXPECT_NE(third.fs & k_truncate, 0U);
    EXPECT_EQ(third.fs & k_ioctl_dev, 0U);
    EXPECT_EQ(fleet::landlock_handled(4, true).net, k_net_connect_tcp);
    EXPECT_EQ(fleet::landlock_handled(4, false).net, 0U);
    const auto sixth = fleet::landlock_handled(6, false);
    EXPECT_EQ(sixth.fs, k_write);
    EXPECT_EQ(sixth.scoped, k_scope_abstract_unix_socket | k_scope_signal);
    EXPECT_EQ(fleet::landlock_handled(9, false).fs, k_write);
}

// Inside the domain only what was granted opens; outside it (the control, same process, same
// files, before restrict_self) everything does.
TEST_F(Landlock, OnlyWhatIsGrantedOpens) {
    LandlockRuleset ruleset = agent_ruleset();
    const int fd = ruleset.fd();
    const int result = fleet::test::in_child([&] {
        if (open_errno(m_dir + "/denied/file", O_RDONLY) != 0 ||
            open_errno(m_dir + "/granted/file", O_WRONLY) != 0) {
            return 10; // the control failed
        }
        if (const int err = fleet::enter_landlock(&fd); err != 0) {
            return 11;
        }
        if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
            return 12;
        }
        if (open_errno(m_dir + "/granted/file", O_RDONLY) != 0 ||
            open_errno(m_dir + "/granted/own/new", O_WRONLY | O_CREAT) != 0) {
            return 13; // what was granted
        }
        if (open_errno(m_dir + "/denied/file", O_RDONLY) != EACCES ||
            open_errno(m_dir + "/granted/file", O_WRONLY) != EACCES ||
            open_errno(m_dir + "/granted/made", O_WRONLY | O_CREAT) != EACCES) {
            return 14; // read-only beneath granted/, nothing beneath denied/
        }
        return 0;
    });
    EXPECT_EQ(result, 0);
    EXPECT_TRUE(fs::exists(m_dir + "/granted/own/new"));
    EXPECT_FALSE(fs::exists(m_dir + "/granted/made"));
}

// A truncate(2) by name needs no open: with ABI 3 the domain denies it too.
TEST_F(Landlock, TruncateByNameIsDenied) {
    if (m_abi < 3) {
        GTEST_SKIP() << "truncate is handled from ABI 3";
    }
    LandlockRuleset ruleset = agent_ruleset();
    const int fd = ruleset.fd();
    const int result = fleet::test::in_child([&] {
        if (fleet::enter_landlock(&fd) != 0) {
            return 11;
        }
        if (::truncate((m_dir + "/granted/file").c_str(), 0) == 0 || errno != EACCES) {
            return 12;
        }
        std::ofstream(m_dir + "/granted/own/mine") << "x";
        return ::truncate((m_dir + "/granted/own/mine").c_str(), 0) == 0 ? 0 : 13; // control
    });
    EXPECT_EQ(result, 0);
    EXPECT_EQ(fs::file_size(m_dir + "/granted/file"), 7U);
}

// With ABI 6 a domain cannot signal outside itself (its runner); the same kill(2) before
// restrict_self is the control.
TEST_F(Landlock, SignalsStayInsideTheDomain) {
    if (m_abi < 6) {
        GTEST_SKIP() << "signal scoping came with ABI 6";
    }
    LandlockRuleset ruleset = agent_ruleset();
    const int fd = ruleset.fd();
    const int result = fleet::test::in_child([&] {
        if (::kill(::getppid(), 0) != 0) {
            return 10;
        }
        if (fleet::enter_landlock(&fd) != 0) {
            return 11;
        }
        if (::kill(::getppid(), 0) == 0 || errno != EPERM) {
            return 12;
        }
        return ::kill(::getpid(), 0) == 0 ? 0 : 13; // itself: inside the domain
    });
    EXPECT_EQ(result, 0);
}

TEST_F(Landlock, MissingPathsAreSkippedOrRefusedAsAsked) {
    fleet::Result<LandlockRuleset> ruleset = LandlockRuleset::create(m_abi, false);
    ASSERT_TRUE(ruleset);
    const std::string absent = m_dir + "/absent";
    const fleet::Result<bool> skipped =
        ruleset->allow_beneath(absent, landlock::k_read, PathMissing::skip);
    ASSERT_TRUE(skipped);
    EXPECT_FALSE(*skipped);
    const fleet::Result<bool> refused =
        ruleset->allow_beneath(absent, landlock::k_read, PathMissing::fail);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find(absent), std::string::npos);
    // A file gets the file rights of a write grant, not the directory ones (EINVAL otherwise).
    const fleet::Result<bool> file =
        ruleset->allow_beneath("/dev/null", landlock::k_write, PathMissing::fail);
    ASSERT_TRUE(file) << file.error().message;
    EXPECT_TRUE(*file);
}

} // namespace
