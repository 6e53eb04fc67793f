#include <algorithm>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "runner/proc.hpp"
#include "sys/child.hpp"

namespace {

pid_t start_sleep(const std::vector<std::string>& env) {
    fleet::ChildSetup setup;
    setup.stdio = {fleet::ChildSetup::k_null, fleet::ChildSetup::k_null, fleet::ChildSetup::k_null};
    fleet::Result<pid_t> pid = fleet::spawn_process(setup, {"/bin/sleep", "30"}, env);
    EXPECT_TRUE(pid) << pid.error().message;
    return pid ? *pid : -1;
}

void stop(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
}

TEST(Proc, StartTimeNamesAProcessUniquely) {
    const auto self = fleet::process_start_time(getpid());
    ASSERT_TRUE(self);
    EXPECT_EQ(fleet::process_start_time(getpid()), self); // stable
    const pid_t child = start_sleep({});
    const auto started = fleet::process_start_time(child);
    ASSERT_TRUE(started);
    EXPECT_GE(*started, *self);
    stop(child);
    EXPECT_FALSE(fleet::process_start_time(child)); // gone (and its pid not yet reused)
}

TEST(Proc, ChildrenAreOursOnly) {
    const pid_t child = start_sleep({});
    const std::vector<pid_t> children = fleet::child_processes();
    EXPECT_NE(std::find(children.begin(), children.end(), child), children.end());
    EXPECT_EQ(std::find(children.begin(), children.end(), getppid()), children.end());
    stop(child);
    const std::vector<pid_t> after = fleet::child_processes();
    EXPECT_EQ(std::find(after.begin(), after.end(), child), after.end());
}

// The environment a process was exec'd with: the runner's marker for an agent's descendants.
TEST(Proc, EnvironValueReadsTheExecEnvironment) {
    const pid_t child = start_sleep({"FLEET_DISPATCH_AGENT=claude", "EMPTY=", "X=a=b"});
    for (int i = 0; i < 1000 && !fleet::environ_value(child, "X"); ++i) {
        usleep(1000); // until the exec is done
    }
    EXPECT_EQ(fleet::environ_value(child, "FLEET_DISPATCH_AGENT"), "claude");
    EXPECT_EQ(fleet::environ_value(child, "EMPTY"), "");
    EXPECT_EQ(fleet::environ_value(child, "X"), "a=b");
    EXPECT_FALSE(fleet::environ_value(child, "FLEET_DISPATCH")); // a prefix is no name
    EXPECT_FALSE(fleet::environ_value(child, "AGENT=claude"));   // nor a part of an entry
    stop(child);
    EXPECT_FALSE(fleet::environ_value(child, "FLEET_DISPATCH_AGENT"));
}

} // namespace
