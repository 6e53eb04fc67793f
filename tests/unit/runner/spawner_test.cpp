// The agents' spawner with real children of the test process: what the child gets (session,
// stdio, working directory, environment, no stray fds) and how a failure is reported.
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "runner/spawner.hpp"
#include "sys/child.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace {

struct Pipe {
    Pipe() {
        int fds[2];
        EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
        read = fleet::Fd(fds[0]);
        write = fleet::Fd(fds[1]);
    }
    std::string drain() {
        write.reset();
        fleet::Result<std::string> text = fleet::read_fd(read.get(), 1 << 20);
        return text ? *text : "";
    }
    fleet::Fd read, write;
};

int wait_exit(pid_t pid) {
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

fleet::SpawnRequest request(const std::string& script, int output) {
    fleet::SpawnRequest request;
    request.executable = "/bin/sh";
    request.args = {"-c", script};
    request.env = {"PATH=/usr/bin:/bin", "MARK=spawned"};
    request.workdir = "/tmp";
    request.stdin_fd = fleet::ChildSetup::k_null;
    request.output_fd = output;
    return request;
}

TEST(Spawner, TheChildGetsItsSessionStdioDirectoryAndEnvironment) {
    boost::asio::io_context io;
    Pipe out;
    Pipe in;
    ASSERT_EQ(fleet::write_all(in.write.get(), "from stdin"), 0);
    in.write.reset();
    // A descriptor of ours the child must not see, even without O_CLOEXEC.
    const fleet::Fd stray(open("/dev/null", O_RDONLY));
    fleet::SpawnRequest spawn_request = request(
        "echo \"$MARK $(pwd) $HOME\"; ps -o sid= -p $$; cat; echo; echo err >&2; ls /proc/self/fd",
        out.write.get());
    spawn_request.stdin_fd = in.read.get();
    const fleet::Result<pid_t> pid = fleet::spawn(io, spawn_request);
    ASSERT_TRUE(pid) << pid.error().message;
    const std::string text = out.drain();
    EXPECT_EQ(wait_exit(*pid), 0);
    EXPECT_EQ(text.rfind("spawned /tmp \n", 0), 0U) << text; // HOME only if given
    EXPECT_NE(text.find(std::to_string(*pid) + "\nfrom stdin\nerr\n"), std::string::npos)
        << text; // its own session; stderr on the same pipe, in order
    // ls itself holds 0, 1, 2 and the directory it reads (3): nothing of ours.
    EXPECT_EQ(text.substr(text.find("err\n") + 4), "0\n1\n2\n3\n") << text;
}

// Which step failed, with its errno; the child never runs the command.
TEST(Spawner, AFailureNamesItsStep) {
    boost::asio::io_context io;
    Pipe out;
    fleet::SpawnRequest missing_dir = request("echo ran", out.write.get());
    missing_dir.workdir = "/nonexistent-workdir";
    const fleet::Result<pid_t> chdir = fleet::spawn(io, missing_dir);
    ASSERT_FALSE(chdir);
    EXPECT_EQ(chdir.error().message, "start /bin/sh: chdir: No such file or directory");

    fleet::SpawnRequest missing_binary = request("", out.write.get());
    missing_binary.executable = "/nonexistent-agent";
    const fleet::Result<pid_t> exec = fleet::spawn(io, missing_binary);
    ASSERT_FALSE(exec);
    EXPECT_EQ(exec.error().message, "start /nonexistent-agent: exec: No such file or directory");
    EXPECT_EQ(out.drain(), "");
}

// Boost.Process 1.81 calls exit() in a child whose exec failed (pitfalls 2 and 3): our
// atexit handlers and stdio buffers would run twice. The spawner _exit()s instead.
int g_atexit_fd = -1;
void note_exit() {
    if (g_atexit_fd >= 0) {
        (void)!::write(g_atexit_fd, "atexit ran\n", 11);
    }
}

TEST(Spawner, AFailedExecRunsNoneOfOurExitHandlers) {
    static const int registered = std::atexit(note_exit);
    ASSERT_EQ(registered, 0);
    boost::asio::io_context io;
    Pipe out;
    Pipe witness;
    g_atexit_fd = witness.write.get();
    fleet::SpawnRequest missing_binary = request("", out.write.get());
    missing_binary.executable = "/nonexistent-agent";
    EXPECT_FALSE(fleet::spawn(io, missing_binary));
    g_atexit_fd = -1;
    EXPECT_EQ(witness.drain(), "");
}

} // namespace
