#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "sys/wait_status.hpp"

namespace {

int status_of_child(void (*body)()) {
    const pid_t pid = fork();
    if (pid == 0) {
        body();
        _exit(99);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

TEST(DecodeWaitStatus, KeepsExitCodeAndSignalApart) {
    const auto exited = fleet::decode_wait_status(status_of_child([] { _exit(15); }));
    EXPECT_TRUE(exited.exited);
    EXPECT_EQ(exited.code, 15);
    EXPECT_EQ(exited.signal, 0);
    EXPECT_EQ(fleet::describe(exited), "exit 15");

    const auto killed = fleet::decode_wait_status(status_of_child([] { raise(SIGTERM); }));
    EXPECT_FALSE(killed.exited);
    EXPECT_EQ(killed.signal, SIGTERM);
    EXPECT_EQ(fleet::describe(killed), "signal 15 (SIGTERM)");
}

TEST(DecodeWaitStatus, FoldsToAShellCodeOnlyWhenAsked) {
    const auto exited = fleet::decode_wait_status(status_of_child([] { _exit(3); }));
    EXPECT_EQ(exited.shell_code(), 3);
    EXPECT_FALSE(exited.succeeded());
    const auto ok = fleet::decode_wait_status(status_of_child([] { _exit(0); }));
    EXPECT_TRUE(ok.succeeded());
    const auto killed = fleet::decode_wait_status(status_of_child([] { raise(SIGKILL); }));
    EXPECT_EQ(killed.shell_code(), 128 + SIGKILL);
    EXPECT_FALSE(killed.succeeded());
}

// waitpid failing (here: a pid that is not our child) is no status at all, and never a success:
// a default ExitStatus is neither exited nor signalled.
TEST(WaitForExit, NoStatusIsAnErrorAndAnUnknownStatusNeverSucceeds) {
    const pid_t child = fork();
    if (child == 0) {
        _exit(0);
    }
    ASSERT_TRUE(fleet::wait_for_exit(child)); // control: our child, reaped once
    const fleet::Result<fleet::ExitStatus> again = fleet::wait_for_exit(child);
    ASSERT_FALSE(again);
    EXPECT_NE(again.error().message.find("waitpid"), std::string::npos);
    const fleet::ExitStatus unknown;
    EXPECT_FALSE(unknown.succeeded());
    EXPECT_EQ(unknown.shell_code(), -1);
    EXPECT_EQ(fleet::describe(unknown), "no exit status");
}

} // namespace
