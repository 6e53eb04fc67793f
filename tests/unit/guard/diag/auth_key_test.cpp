// The fingerprint of a real key against ssh-keygen's own (-l -E sha256).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "guard/diag/auth_key.hpp"
#include "support/process.hpp"

namespace {

class AuthKey : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/fleet-auth-key-test.XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        m_dir = pattern;
        const fleet::test::ProcessResult made = fleet::test::run(
            {"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", m_dir + "/key"});
        ASSERT_EQ(made.exit_code, 0) << made.err;
        std::ifstream in(m_dir + "/key.pub");
        std::getline(in, m_public); // "ssh-ed25519 AAAA... comment"
        const fleet::test::ProcessResult listed = fleet::test::run(
            {"/usr/bin/ssh-keygen", "-l", "-E", "sha256", "-f", m_dir + "/key.pub"});
        ASSERT_EQ(listed.exit_code, 0) << listed.err;
        std::istringstream words(listed.out); // "256 SHA256:... comment (ED25519)"
        std::string bits;
        words >> bits >> m_expected;
    }
    void TearDown() override {
        unsetenv("SSH_USER_AUTH");
        std::filesystem::remove_all(m_dir);
    }

    std::string m_dir, m_public, m_expected;
};

TEST_F(AuthKey, IsSshKeygensFingerprint) {
    ASSERT_EQ(m_expected.substr(0, 7), "SHA256:");
    EXPECT_EQ(fleet::key_fingerprint_of("publickey " + m_public + "\n"), m_expected);
    // sshd lists every method that authenticated the session; the key's line may come later.
    EXPECT_EQ(fleet::key_fingerprint_of("keyboard-interactive\npublickey " + m_public), m_expected);
}

TEST_F(AuthKey, IsEmptyWithoutAKey) {
    EXPECT_EQ(fleet::key_fingerprint_of(""), "");
    EXPECT_EQ(fleet::key_fingerprint_of("password\n"), "");
    EXPECT_EQ(fleet::key_fingerprint_of("publickey ssh-ed25519\n"), "");
    EXPECT_EQ(fleet::key_fingerprint_of("publickey ssh-ed25519 not*base64\n"), "");
}

// The session's key comes from the file SSH_USER_AUTH names; a link there is not followed.
TEST_F(AuthKey, ReadsTheFileSshdNames) {
    EXPECT_EQ(fleet::session_key_fingerprint(), ""); // no SSH_USER_AUTH
    const std::string info = m_dir + "/auth-info";
    std::ofstream(info) << "publickey " << m_public << "\n";
    setenv("SSH_USER_AUTH", info.c_str(), 1);
    EXPECT_EQ(fleet::session_key_fingerprint(), m_expected);
    std::filesystem::create_symlink(info, m_dir + "/link");
    setenv("SSH_USER_AUTH", (m_dir + "/link").c_str(), 1);
    EXPECT_EQ(fleet::session_key_fingerprint(), "");
}

} // namespace
