#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "wait_status.hpp"

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

} // namespace
