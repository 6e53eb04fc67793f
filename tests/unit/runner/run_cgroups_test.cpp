// run_cgroups, as root on this host's real cgroups: the tree with its limits, an agent's child
// joining its leaf through the fds root opened, what it used, the kill, and the removal; and
// the refusals that leave nothing behind.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "runner/run_cgroups.hpp"
#include "support/files.hpp"

namespace {

namespace fs = std::filesystem;

fleet::CgroupRequest request_for(const std::string& name) {
    fleet::CgroupRequest request;
    request.name = name;
    request.run.memory_max = uint64_t{256} << 20;
    request.run.pids_max = 100;
    request.oom_score_adj = 600;
    fleet::CgroupRequest::Agent agent{"a", {}};
    agent.limits.memory_max = uint64_t{64} << 20;
    agent.limits.pids_max = 16;
    request.agents.push_back(agent);
    request.agents.push_back(fleet::CgroupRequest::Agent{"b", {}});
    return request;
}

TEST(RunCgroups, MadeLimitedUsedKilledAndRemoved) {
    if (geteuid() != 0) {
        GTEST_SKIP() << "needs root to make cgroups";
    }
    const auto layout = fleet::cgroup_layout();
    ASSERT_TRUE(layout.ok());
    if (layout->mode == fleet::CgroupMode::none) {
        GTEST_SKIP() << "no cgroupfs on this host";
    }
    const std::string name = "fl-test-" + std::to_string(getpid());
    auto made = fleet::create_run_cgroups(*layout, request_for(name));
    if (!made.ok() && layout->mode == fleet::CgroupMode::unified) {
        GTEST_SKIP() << "this host's v2 cgroup cannot be limited here: " << made.error().message;
    }
    ASSERT_TRUE(made.ok()) << made.error().message;
    ASSERT_FALSE(made->dirs.empty());
    for (const std::string& dir : made->dirs) {
        EXPECT_FALSE(fs::exists(dir + "/runner")) << dir; // the runner stays outside
        EXPECT_TRUE(fs::is_directory(dir + "/agent-a")) << dir;
        EXPECT_EQ(fs::status(dir + "/agent-a/cgroup.procs").permissions() & fs::perms::group_write,
                  fs::perms::none); // root's alone: the user writes through root's fds only
    }
    const fleet::CgroupHierarchy* memory =
        layout->mode == fleet::CgroupMode::unified ? layout->v2() : layout->v1("memory");
    const std::string leaf = memory->path() + "/fleet-dispatch/" + name + "/agent-a";
    EXPECT_EQ(
        fleet::test::read_file(leaf + (memory->v2 ? "/memory.max" : "/memory.limit_in_bytes")),
        "67108864\n");
    const fleet::AgentCgroup& agent = made->agents.at("a");
    EXPECT_EQ(agent.limits().limits.memory_max, uint64_t{64} << 20);
    EXPECT_EQ(agent.limits().limits.pids_max, 16U);
    EXPECT_EQ(agent.limits().oom_score_adj, 600);
    // b has none of its own: the run's bound it.
    EXPECT_EQ(made->agents.at("b").limits().limits.memory_max, uint64_t{256} << 20);

    EXPECT_FALSE(agent.populated()); // the control
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        const std::vector<int>& fds = agent.join_fds();
        if (fleet::join_cgroups(fds.data(), fds.size()) != 0) {
            _exit(1);
        }
        const size_t size = size_t{16} << 20;
        volatile char* block = static_cast<volatile char*>(malloc(size));
        for (size_t i = 0; block != nullptr && i < size; i += 4096) {
            block[i] = 1;
        }
        pause();
        _exit(0);
    }
    for (int i = 0; i < 200 && !(agent.populated() &&
                                 agent.resources().memory_peak.value_or(0) > (uint64_t{16} << 20));
         ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(agent.populated());
    const fleet::AgentResources used = agent.resources();
    EXPECT_GE(used.memory_peak.value_or(0), uint64_t{16} << 20);
    EXPECT_EQ(used.oom_kills, 0U);
    EXPECT_EQ(agent.kill(), 0);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    EXPECT_FALSE(agent.populated());

    const std::vector<std::string> dirs = made->dirs;
    made = fleet::Error{};
    EXPECT_EQ(fleet::remove_run_cgroups(dirs, std::chrono::seconds(2)), 0);
    for (const std::string& dir : dirs) {
        EXPECT_FALSE(fs::exists(dir)) << dir;
    }
}

TEST(RunCgroups, ALayoutWithoutTheControllersIsAnErrorAndLeavesNothing) {
    if (geteuid() != 0) {
        GTEST_SKIP() << "needs root to make cgroups";
    }
    auto layout = fleet::cgroup_layout();
    ASSERT_TRUE(layout.ok());
    if (layout->v2() == nullptr) {
        GTEST_SKIP() << "no v2 hierarchy on this host";
    }
    fleet::CgroupLayout unified;
    unified.mode = fleet::CgroupMode::unified;
    unified.hierarchies = {*layout->v2()};
    unified.v2_controllers = {"pids"}; // no memory
    const std::string name = "fl-test-none-" + std::to_string(getpid());
    const auto made = fleet::create_run_cgroups(unified, request_for(name));
    ASSERT_FALSE(made.ok());
    EXPECT_EQ(made.error().message, "no memory controller in " + layout->v2()->path());
    EXPECT_FALSE(fs::exists(layout->v2()->path() + "/fleet-dispatch/" + name));

    EXPECT_EQ(fleet::create_run_cgroups(fleet::CgroupLayout{}, request_for(name)).error().message,
              "no cgroup hierarchy is mounted on /sys/fs/cgroup");
}

} // namespace
