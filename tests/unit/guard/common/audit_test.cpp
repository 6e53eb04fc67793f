// The audit file as root opens it: in a scratch directory under /var/lib (root's, 0755, every
// directory above root's), as the guard programs demand.
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "guard/common/audit.hpp"
#include "support/files.hpp"

namespace {

using fleet::AuditLog;

class Audit : public ::testing::Test {
protected:
    void SetUp() override {
        if (geteuid() != 0) {
            GTEST_SKIP() << "the audit log is root's";
        }
        m_dir = fleet::test::make_root_scratch("audit-test");
        m_log = m_dir + "/helper.log";
    }
    void TearDown() override {
        if (!m_dir.empty()) {
            std::filesystem::remove_all(m_dir);
        }
    }

    std::string m_dir, m_log;
};

TEST_F(Audit, RootCreatesTheFileOwnAndAppendsWholeLines) {
    const fleet::AuditSinks sinks("fleet-audit-test", AuditLog::open(m_log));
    ASSERT_TRUE(sinks.file()) << sinks.file().error().message;
    struct stat info {};
    ASSERT_EQ(stat(m_log.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0600U);
    EXPECT_EQ(info.st_uid, 0U);
    ASSERT_TRUE(sinks.write({{"decision", "allowed"}, {"reason", "caf\xc3\xa9\nx"}}, true));
    ASSERT_TRUE(sinks.write({{"decision", "refused"}}, false));
    // One line each, ASCII JSON: the newline in a value cannot start another line.
    EXPECT_EQ(fleet::test::read_file(m_log),
              "{\"decision\":\"allowed\",\"reason\":\"caf\\u00e9\\nx\"}\n"
              "{\"decision\":\"refused\"}\n");
}

// What another user could have written, or redirect, is no audit log.
TEST_F(Audit, RefusesALogOthersCouldTouch) {
    ASSERT_TRUE(AuditLog::open(m_log)); // the control: made and accepted
    ASSERT_EQ(chmod(m_log.c_str(), 0620), 0);
    const fleet::Result<AuditLog> group_writable = AuditLog::open(m_log);
    ASSERT_FALSE(group_writable);
    EXPECT_EQ(group_writable.error().message,
              "audit log " + m_log + " must be a regular file owned by root, mode 0600");
    // fleet-diag's log is group-writable (its group is the diag user's), never readable.
    EXPECT_TRUE(AuditLog::open(m_log, AuditLog::Access::group_write));
    ASSERT_EQ(chmod(m_log.c_str(), 0640), 0);
    EXPECT_FALSE(AuditLog::open(m_log, AuditLog::Access::group_write));

    const std::string link = m_dir + "/link.log";
    ASSERT_EQ(symlink(m_log.c_str(), link.c_str()), 0);
    EXPECT_FALSE(AuditLog::open(link));
    ASSERT_EQ(chmod(m_dir.c_str(), 0777), 0);
    const fleet::Result<AuditLog> open_dir = AuditLog::open(m_dir + "/other.log");
    ASSERT_FALSE(open_dir);
    EXPECT_NE(open_dir.error().message.find("audit log directory"), std::string::npos)
        << open_dir.error().message;
    EXPECT_FALSE(AuditLog::open("relative.log"));
}

// Package actions take the log's lock: a second holder waits, then is refused with a reason.
TEST_F(Audit, TheLockIsOneHoldersAtATime) {
    const fleet::Result<AuditLog> first = AuditLog::open(m_log);
    const fleet::Result<AuditLog> second = AuditLog::open(m_log);
    ASSERT_TRUE(first && second);
    ASSERT_TRUE(first->lock_exclusive(std::chrono::milliseconds(0)));
    const fleet::Status waited = second->lock_exclusive(std::chrono::milliseconds(250));
    ASSERT_FALSE(waited);
    EXPECT_NE(waited.error().message.find("another package action is still running"),
              std::string::npos);
}

} // namespace
