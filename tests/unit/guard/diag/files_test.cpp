// fleet-diag's file answers in a scratch root: what is read, and each refusal with its control.
// (Both resolvers, under a seccomp filter that refuses openat2, are in tests/integration.)
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "guard/diag/files.hpp"
#include "guard/diag/tokenizer.hpp"
#include "support/files.hpp"

namespace fleet {
namespace {

class DiagFiles : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/fleet-diag-files-test.XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        m_root = pattern;
        std::filesystem::create_directories(m_root + "/logs/app");
        std::filesystem::create_directories(m_root + "/secret");
        test::write_file(m_root + "/logs/app/app.log", "one\ntwo\nthree\n", 0644);
        test::write_file(m_root + "/secret/key", "private", 0600);
        test::write_file(m_root + "/logs/token", "t0k3n", 0600);
    }
    void TearDown() override { std::filesystem::remove_all(m_root); }

    Result<FileAnswer> answer(const std::string& text, size_t max_output = 65536) {
        Result<std::vector<std::string>> words = tokenize(text);
        EXPECT_TRUE(words) << text;
        Result<DiagRequest> request = parse_diag_request(*words);
        EXPECT_TRUE(request) << text << ": " << (request ? "" : request.error().message);
        const DenySet deny = DenySet::build({m_root + "/secret", m_root + "/logs/tok*"});
        return run_file_command(*request, {m_root + "/logs", m_root + "/secret"}, deny, max_output);
    }

    void expect_refused(const std::string& text, const std::string& why) {
        const Result<FileAnswer> refused = answer(text);
        ASSERT_FALSE(refused) << text;
        EXPECT_EQ(refused.error().kind, ErrorKind::invalid_input) << text;
        EXPECT_NE(refused.error().message.find(why), std::string::npos)
            << text << ": " << refused.error().message;
    }

    std::string m_root;
};

TEST_F(DiagFiles, AnswersFromTheFile) {
    const Result<FileAnswer> cat = answer("cat " + m_root + "/logs/app/app.log");
    ASSERT_TRUE(cat) << cat.error().message;
    EXPECT_EQ(cat->output, "one\ntwo\nthree\n");
    struct stat info {};
    ASSERT_EQ(stat((m_root + "/logs/app/app.log").c_str(), &info), 0);
    EXPECT_EQ(cat->id, (FileId{info.st_dev, info.st_ino}));
    EXPECT_EQ(answer("tail -n 1 " + m_root + "/logs/app/app.log")->output, "three\n");
    EXPECT_EQ(answer("head -n 2 " + m_root + "/logs/app/app.log")->output, "one\ntwo\n");
    EXPECT_NE(answer("ls " + m_root + "/logs/app")->output.find("app.log"), std::string::npos);
    const Result<FileAnswer> capped = answer("cat " + m_root + "/logs/app/app.log", 5);
    ASSERT_TRUE(capped);
    EXPECT_EQ(capped->output, "one\nt");
    EXPECT_TRUE(capped->truncated);
}

TEST_F(DiagFiles, RefusesWhatIsOutsideTheRoots) {
    expect_refused("cat /etc/hostname", "not under");
    expect_refused("cat " + m_root + "/logsbut/app.log", "not under"); // a prefix is no root
    // ".." never gets this far: the grammar refuses it (request_test.cpp).
}

TEST_F(DiagFiles, RefusesDeniedFilesUnderEverySpelling) {
    expect_refused("cat " + m_root + "/logs/token", "denied");
    expect_refused("cat " + m_root + "/secret/key", "denied"); // in a denied directory
    expect_refused("ls " + m_root + "/secret", "denied");
    // A second name for a file is refused whatever it names (a hard link to a denied file
    // would otherwise pass: the deny list holds identities, and links are counted).
    ASSERT_EQ(link((m_root + "/secret/key").c_str(), (m_root + "/logs/copy").c_str()), 0);
    expect_refused("cat " + m_root + "/logs/copy", "");
}

TEST_F(DiagFiles, RefusesLinksAndSpecialFiles) {
    std::filesystem::create_symlink(m_root + "/logs/app/app.log", m_root + "/logs/link");
    expect_refused("cat " + m_root + "/logs/link", "");
    std::filesystem::create_directory_symlink(m_root + "/logs/app", m_root + "/logs/dirlink");
    expect_refused("cat " + m_root + "/logs/dirlink/app.log", "");
    ASSERT_EQ(mkfifo((m_root + "/logs/fifo").c_str(), 0644), 0);
    expect_refused("cat " + m_root + "/logs/fifo", "");         // never opened: nothing blocks
    EXPECT_TRUE(answer("cat " + m_root + "/logs/app/app.log")); // the control
}

TEST_F(DiagFiles, AMissingFileIsNoRefusal) {
    const Result<FileAnswer> missing = answer("cat " + m_root + "/logs/none.log");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().kind, ErrorKind::system);
}

} // namespace
} // namespace fleet
