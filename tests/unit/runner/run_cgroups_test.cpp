// run_cgroups, as root on this host's real cgroups: the tree with its limits, an agent's child
// joining its leaf through the fds root opened (also once dropped, where clone3 into the leaf
// is refused), what it used, the kill, and the removal; and the refusals that leave nothing
// behind.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <grp.h>
#include <linux/sched.h>
#include <string>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "runner/run_cgroups.hpp"
#include "support/files.hpp"
#include "sys/fd.hpp"

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

// Why an agent is moved into its leaf between fork and exec, not started in it with
// clone3(CLONE_INTO_CGROUP) (run_cgroups.hpp): the kernel checks the *caller's* write access to
// the leaf's cgroup.procs (and the common ancestor's) at clone time, whoever opened the
// directory. Root clones into the leaf (the control: the flag works here); the runner's
// credentials (a dropped uid, nothing of cgroupfs its own) are refused; the same process joins
// the same leaf through root's cgroup.procs fds.
long clone_into(int cgroup_dir) {
    clone_args args{};
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<uint64_t>(cgroup_dir);
    return syscall(SYS_clone3, &args, sizeof args);
}

// In a child: 0 when the clone landed in the leaf, else the errno.
int clone_into_and_check(int cgroup_dir, const std::string& leaf) {
    const long pid = clone_into(cgroup_dir);
    if (pid == 0) {
        const std::string own = fleet::test::read_file("/proc/self/cgroup");
        _exit(own.find("0::" + leaf + "\n") != std::string::npos ? 0 : 1);
    }
    if (pid < 0) {
        return errno;
    }
    int status = 0;
    return waitpid(static_cast<pid_t>(pid), &status, 0) == pid && WIFEXITED(status) &&
                   WEXITSTATUS(status) == 0
               ? 0
               : EBADE;
}

TEST(RunCgroups, CloneIntoTheLeafNeedsTheCallersAccessTheJoinDoesNot) {
    if (geteuid() != 0) {
        GTEST_SKIP() << "needs root to make cgroups";
    }
    const auto layout = fleet::cgroup_layout();
    ASSERT_TRUE(layout.ok());
    if (layout->v2() == nullptr) {
        GTEST_SKIP() << "no v2 hierarchy on this host: CLONE_INTO_CGROUP is v2's";
    }
    const std::string name = "fl-test-clone-" + std::to_string(getpid());
    auto made = fleet::create_run_cgroups(*layout, request_for(name));
    if (!made.ok() && layout->mode == fleet::CgroupMode::unified) {
        GTEST_SKIP() << "this host's v2 cgroup cannot be limited here: " << made.error().message;
    }
    ASSERT_TRUE(made.ok()) << made.error().message;
    const std::string relative =
        layout->v2()->path().substr(layout->v2()->mount.size()) + "/fleet-dispatch/" + name;
    const std::string leaf = relative + "/agent-a";
    const fleet::Fd dir(open((layout->v2()->mount + leaf).c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_TRUE(dir.valid());
    const int as_root = clone_into_and_check(dir.get(), leaf);
    if (as_root == ENOSYS || as_root == E2BIG || as_root == EINVAL) {
        GTEST_SKIP() << "this kernel has no clone3 with CLONE_INTO_CGROUP (5.7)";
    }
    EXPECT_EQ(as_root, 0) << std::strerror(as_root); // the control

    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        const uid_t nobody = 65534;
        if (setgroups(0, nullptr) != 0 || setresgid(nobody, nobody, nobody) != 0 ||
            setresuid(nobody, nobody, nobody) != 0) {
            _exit(10);
        }
        if (clone_into_and_check(dir.get(), leaf) != EACCES) {
            _exit(11);
        }
        const std::vector<int>& fds = made->agents.at("a").join_fds();
        if (fleet::join_cgroups(fds.data(), fds.size()) != 0) {
            _exit(12);
        }
        const std::string own = fleet::test::read_file("/proc/self/cgroup");
        _exit(own.find("0::" + leaf + "\n") != std::string::npos ? 0 : 13);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0)
        << "10 drop, 11 clone3 not refused, 12 join, 13 not in " << leaf;

    const std::vector<std::string> dirs = made->dirs;
    made = fleet::Error{};
    EXPECT_EQ(fleet::remove_run_cgroups(dirs, std::chrono::seconds(2)), 0);
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
