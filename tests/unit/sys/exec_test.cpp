#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/child.hpp"
#include "sys/exec.hpp"

namespace {

using fleet::test::in_child;

TEST(MarkFdsCloexec, MarksEveryFdFromFirst) {
    EXPECT_EQ(in_child([] {
                  const int a = open("/dev/null", O_RDONLY); // no O_CLOEXEC on purpose
                  const int b = dup2(a, 40);
                  if (a < 3 || b != 40)
                      return 10;
                  if (!fleet::mark_fds_cloexec(3))
                      return 11;
                  const bool ok = (fcntl(a, F_GETFD) & FD_CLOEXEC) != 0 &&
                                  (fcntl(b, F_GETFD) & FD_CLOEXEC) != 0 &&
                                  (fcntl(0, F_GETFD) & FD_CLOEXEC) == 0;
                  return ok ? 0 : 1;
              }),
              0);
}

TEST(ResetSignals, UnblocksAndRestoresDefaults) {
    EXPECT_EQ(in_child([] {
                  sigset_t set;
                  sigemptyset(&set);
                  sigaddset(&set, SIGTERM);
                  sigprocmask(SIG_BLOCK, &set, nullptr);
                  signal(SIGPIPE, SIG_IGN);
                  if (!fleet::reset_signals())
                      return 10;
                  sigset_t now;
                  sigprocmask(SIG_SETMASK, nullptr, &now);
                  struct sigaction action {};
                  sigaction(SIGPIPE, nullptr, &action);
                  return sigismember(&now, SIGTERM) == 0 && action.sa_handler == SIG_DFL ? 0 : 1;
              }),
              0);
}

TEST(StartNewSession, FailsForAGroupLeaderAndWorksForAMember) {
    EXPECT_EQ(in_child([] {
                  if (setpgid(0, 0) != 0)
                      return 10; // become a group leader
                  return fleet::start_new_session() ? 0 : 1;
              }),
              1);
    EXPECT_EQ(in_child([] {
                  if (!fleet::start_new_session())
                      return 1;
                  return getsid(0) == getpid() ? 0 : 2;
              }),
              0);
}

TEST(ExecCommand, ReportsNotFoundAndNotExecutable) {
    const auto missing = fleet::exec_command({"no-such-command-xyz"}, {"PATH=/usr/bin:/bin"});
    EXPECT_EQ(missing.exit_code, 127);
    const auto absolute = fleet::exec_command({"/nonexistent/x"}, {});
    EXPECT_EQ(absolute.exit_code, 127);

    char dir_template[] = "/tmp/fl-exec-test-XXXXXX";
    const std::string dir = mkdtemp(dir_template);
    const std::string script = dir + "/tool";
    std::ofstream(script) << "#!/bin/sh\nexit 0\n";
    chmod(script.c_str(), 0644);
    const auto found_in_path = fleet::exec_command({"tool"}, {"PATH=" + dir});
    EXPECT_EQ(found_in_path.exit_code, 126) << found_in_path.message;
    const auto by_path = fleet::exec_command({script}, {});
    EXPECT_EQ(by_path.exit_code, 126);
    std::remove(script.c_str());
    rmdir(dir.c_str());
    EXPECT_EQ(fleet::exec_command({}, {}).exit_code, 127);
}

TEST(ExecCommand, SearchesPathFromTheNewEnvironment) {
    EXPECT_EQ(in_child([] {
                  setenv("PATH", "/nonexistent", 1); // the caller's PATH must not be used
                  const auto failure = fleet::exec_command({"true"}, {"PATH=/usr/bin:/bin"});
                  return failure.exit_code == 0 ? 0 : 100 + failure.exit_code % 100;
              }),
              0);
}

} // namespace
