#include <algorithm>
#include <filesystem>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "guard/common/tools.hpp"
#include "support/files.hpp"

namespace {

// Nothing of the caller's environment reaches a tool: the list is fixed.
TEST(Tools, TheEnvironmentIsBuiltFromNothing) {
    setenv("LD_PRELOAD", "/tmp/evil.so", 1);
    setenv("SYSTEMD_PAGER", "sh -c id", 1);
    const std::vector<std::string> env = fleet::tool_environment();
    unsetenv("LD_PRELOAD");
    unsetenv("SYSTEMD_PAGER");
    for (const std::string& entry : env) {
        EXPECT_EQ(entry.find("LD_"), std::string::npos) << entry;
    }
    EXPECT_NE(std::find(env.begin(), env.end(), "SYSTEMD_PAGER=cat"), env.end());
    EXPECT_NE(std::find(env.begin(), env.end(), "SYSTEMD_PAGERSECURE=1"), env.end());
    EXPECT_NE(std::find(env.begin(), env.end(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"), env.end());
}

// Only what only root could have put there is run: the control is /usr/bin/systemctl's kind.
TEST(Tools, AnExecutableMustBeRootsAlone) {
    if (geteuid() != 0) {
        GTEST_SKIP() << "the files must be root's";
    }
    EXPECT_TRUE(fleet::check_trusted_executable("/usr/bin/true"));
    EXPECT_FALSE(fleet::check_trusted_executable("/bin/sh")); // a link (to dash), not followed
    const std::string dir = fleet::test::make_root_scratch("tools-test");
    fleet::test::write_file(dir + "/tool", "#!/bin/sh\n", 0755);
    EXPECT_TRUE(fleet::check_trusted_executable(dir + "/tool"));
    ASSERT_EQ(chmod((dir + "/tool").c_str(), 0775), 0);
    EXPECT_FALSE(fleet::check_trusted_executable(dir + "/tool")); // group-writable
    ASSERT_EQ(chmod((dir + "/tool").c_str(), 0755), 0);
    ASSERT_EQ(chown((dir + "/tool").c_str(), 65534, 0), 0);
    EXPECT_FALSE(fleet::check_trusted_executable(dir + "/tool")); // someone else's
    std::filesystem::create_symlink("/bin/sh", dir + "/link");
    EXPECT_FALSE(fleet::check_trusted_executable(dir + "/link")); // a link is not followed
    ASSERT_EQ(chmod(dir.c_str(), 0777), 0);
    fleet::test::write_file(dir + "/other", "#!/bin/sh\n", 0755);
    EXPECT_FALSE(fleet::check_trusted_executable(dir + "/other")); // in a directory others write
    std::filesystem::remove_all(dir);
}

TEST(Tools, HardeningReopensClosedStandardFds) {
    // In a child: the hardening changes the process for good.
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(1);
        const bool hardened = fleet::harden_guard_process();
        struct stat info {};
        const bool null_on_1 = fstat(1, &info) == 0 && S_ISCHR(info.st_mode);
        const mode_t mask = umask(0);
        _exit(hardened && null_on_1 && mask == 077 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0
                                                                                              : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

} // namespace
