#include <grp.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "launch/credentials.hpp"
#include "support/child.hpp"

namespace {

using fleet::NoNewPrivs;
using fleet::test::in_child;

class Credentials : public ::testing::Test {
protected:
    void SetUp() override {
        if (geteuid() != 0) {
            GTEST_SKIP() << "needs root: drops privileges for real";
        }
        auto nobody = fleet::resolve_identity("nobody", {});
        ASSERT_TRUE(nobody.ok());
        m_nobody = *nobody;
    }
    fleet::Identity m_nobody;
};

TEST_F(Credentials, DropThenVerifySucceeds) {
    EXPECT_EQ(in_child([&] {
                  if (!fleet::drop_privileges(m_nobody, NoNewPrivs::no))
                      return 1;
                  if (!fleet::verify_credentials(m_nobody, NoNewPrivs::no))
                      return 2;
                  return getuid() == 65534 ? 0 : 3;
              }),
              0);
}

TEST_F(Credentials, VerifyCatchesAProcessThatIsStillRoot) {
    EXPECT_EQ(in_child([&] {
                  const auto verified = fleet::verify_credentials(m_nobody, NoNewPrivs::no);
                  return verified ? 0 : 1;
              }),
              1);
}

TEST_F(Credentials, VerifyCatchesRootsGroupsLeftBehind) {
    // setresgid and setresuid without setgroups: the classic bug (CERT POS36-C).
    EXPECT_EQ(in_child([&] {
                  const gid_t root_groups[] = {0, 4};
                  if (setgroups(2, root_groups) != 0)
                      return 10;
                  if (setresgid(65534, 65534, 65534) != 0)
                      return 11;
                  if (setresuid(65534, 65534, 65534) != 0)
                      return 12;
                  const auto verified = fleet::verify_credentials(m_nobody, NoNewPrivs::no);
                  if (verified)
                      return 0;
                  return verified.error().message.find("groups") != std::string::npos ? 1 : 2;
              }),
              1);
}

TEST_F(Credentials, VerifyCatchesASavedRootUid) {
    // setuid via seteuid only: the saved uid stays 0, so root can come back.
    EXPECT_EQ(in_child([&] {
                  const gid_t groups[] = {65534};
                  if (setgroups(1, groups) != 0 || setresgid(65534, 65534, 65534) != 0)
                      return 10;
                  if (setresuid(65534, 65534, 0) != 0)
                      return 11;
                  return fleet::verify_credentials(m_nobody, NoNewPrivs::no) ? 0 : 1;
              }),
              1);
}

TEST_F(Credentials, VerifyCatchesTheWrongTarget) {
    EXPECT_EQ(in_child([&] {
                  if (!fleet::drop_privileges(m_nobody, NoNewPrivs::no))
                      return 10;
                  fleet::Identity other = m_nobody;
                  other.uid = 65533;
                  return fleet::verify_credentials(other, NoNewPrivs::no) ? 0 : 1;
              }),
              1);
}

TEST_F(Credentials, NoNewPrivsIsVerified) {
    EXPECT_EQ(in_child([&] {
                  if (!fleet::drop_privileges(m_nobody, NoNewPrivs::yes))
                      return 10;
                  return fleet::verify_credentials(m_nobody, NoNewPrivs::yes) ? 0 : 1;
              }),
              0);
    // Control: asking to verify NNP that was never set fails.
    EXPECT_EQ(in_child([&] {
                  if (!fleet::drop_privileges(m_nobody, NoNewPrivs::no))
                      return 10;
                  return fleet::verify_credentials(m_nobody, NoNewPrivs::yes) ? 0 : 1;
              }),
              1);
}

TEST(RefuseSetidInstall, PassesForAPlainBinary) {
    EXPECT_TRUE(fleet::refuse_setid_install().ok());
}

} // namespace
