#include <cerrno>
#include <fcntl.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "sys/child.hpp"
#include "sys/wait_status.hpp"

namespace {

using fleet::ChildSetup;

const std::vector<std::string> k_env = {"PATH=/usr/bin:/bin"};

int refuse(const void* /*context*/) {
    return EPERM;
}

TEST(SpawnProcess, StartsTheCommandAfterEveryStep) {
    int pipe_fds[2];
    ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
    ChildSetup setup;
    setup.stdio = {ChildSetup::k_null, pipe_fds[1], pipe_fds[1]};
    setup.workdir = "/";
    fleet::Result<pid_t> pid =
        fleet::spawn_process(setup, {"/bin/sh", "-c", "pwd; ps -o sid= -p $$"}, k_env);
    ASSERT_TRUE(pid) << pid.error().message;
    close(pipe_fds[1]);
    std::string out(4096, '\0');
    ssize_t n = 0, total = 0;
    while ((n = read(pipe_fds[0], out.data() + total, out.size() - total)) > 0) {
        total += n;
    }
    close(pipe_fds[0]);
    out.resize(static_cast<size_t>(total));
    fleet::Result<fleet::ExitStatus> status = fleet::wait_for_exit(*pid);
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->succeeded());
    EXPECT_EQ(out.substr(0, 2), "/\n");                                  // chdir
    EXPECT_NE(out.find(std::to_string(*pid)), std::string::npos) << out; // its own session
}

// A failed step is named, with its errno, and the child never runs the command.
TEST(SpawnProcess, NamesTheStepThatFailed) {
    ChildSetup setup;
    setup.workdir = "/nonexistent-directory";
    fleet::Result<pid_t> chdir = fleet::spawn_process(setup, {"/bin/true"}, k_env);
    ASSERT_FALSE(chdir);
    EXPECT_NE(chdir.error().message.find("chdir: No such file or directory"), std::string::npos)
        << chdir.error().message;

    ChildSetup hooked;
    hooked.hook = refuse;
    fleet::Result<pid_t> hook = fleet::spawn_process(hooked, {"/bin/true"}, k_env);
    ASSERT_FALSE(hook);
    EXPECT_NE(hook.error().message.find("set up: Operation not permitted"), std::string::npos);

    ChildSetup orphan;
    orphan.death_signal = SIGTERM;
    orphan.parent = 1; // not the parent the child sees: as if it had died in between
    fleet::Result<pid_t> death = fleet::spawn_process(orphan, {"/bin/true"}, k_env);
    ASSERT_FALSE(death);
    EXPECT_NE(death.error().message.find("PR_SET_PDEATHSIG: No such process"), std::string::npos);

    fleet::Result<pid_t> missing =
        fleet::spawn_process(ChildSetup{}, {"/nonexistent/command"}, k_env);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().kind, fleet::ErrorKind::invalid_input);
    EXPECT_NE(missing.error().message.find("exec: No such file or directory"), std::string::npos);
    EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1) << "a failed child was left unreaped";
}

} // namespace
