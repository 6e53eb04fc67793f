// sys/cgroup: the parsers on fixed text, the layout of this host, and, as root, the kill and
// populated tracking on real cgroups (v2 cgroup.kill and cgroup.events; v1 freezer). Each
// test that needs what this host lacks says so when it skips: on these machines (hybrid) the
// v2 hierarchy has no memory, pids or cpu controller, so the v2 limit files are tested only
// where it has them (a host booted with the unified hierarchy alone).
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/files.hpp"
#include "sys/cgroup.hpp"
#include "sys/fd.hpp"

namespace {

namespace fs = std::filesystem;

TEST(CgroupKey, FindsTheKeyOfAFlatKeyedFile) {
    const std::string text = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n";
    EXPECT_EQ(fleet::cgroup_key(text, "oom_kill"), 2U);
    EXPECT_EQ(fleet::cgroup_key(text, "oom"), 1U); // not oom_kill's prefix
    EXPECT_EQ(fleet::cgroup_key(text, "max"), 3U);
    EXPECT_FALSE(fleet::cgroup_key(text, "populated"));
    EXPECT_EQ(fleet::cgroup_key("populated 0", "populated"), 0U);
}

TEST(CgroupPids, ReadsCgroupProcs) {
    EXPECT_EQ(fleet::cgroup_pids("12\n345\n"), (std::vector<pid_t>{12, 345}));
    EXPECT_TRUE(fleet::cgroup_pids("").empty());
}

TEST(CgroupMemberships, ReadsProcPidCgroup) {
    const auto lines =
        fleet::cgroup_memberships("9:name=systemd:/\n4:memory:/a:b/c\n0::/x\nbroken\n");
    ASSERT_EQ(lines.size(), 3U);
    EXPECT_EQ(lines[0].controllers, "name=systemd");
    EXPECT_EQ(lines[1].controllers, "memory");
    EXPECT_EQ(lines[1].path, "/a:b/c"); // a colon in the path is the path's
    EXPECT_EQ(lines[2].controllers, "");
    EXPECT_EQ(lines[2].path, "/x");
}

TEST(CgroupHierarchy, KnowsItsControllers) {
    fleet::CgroupHierarchy hierarchy{false, "cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct", "/a"};
    EXPECT_TRUE(hierarchy.has("cpu"));
    EXPECT_TRUE(hierarchy.has("cpuacct"));
    EXPECT_FALSE(hierarchy.has("cpuset"));
    EXPECT_EQ(hierarchy.path(), "/sys/fs/cgroup/cpu,cpuacct/a");
    hierarchy.own = "/";
    EXPECT_EQ(hierarchy.path(), "/sys/fs/cgroup/cpu,cpuacct");
}

TEST(CgroupLayout, OfThisHost) {
    const auto layout = fleet::cgroup_layout();
    ASSERT_TRUE(layout.ok()) << layout.error().message;
    if (layout->mode == fleet::CgroupMode::none) {
        GTEST_SKIP() << "no cgroupfs on this host";
    }
    for (const fleet::CgroupHierarchy& hierarchy : layout->hierarchies) {
        EXPECT_TRUE(fs::is_directory(hierarchy.path())) << hierarchy.path();
        EXPECT_EQ(hierarchy.controllers.rfind("name=", 0), std::string::npos);
    }
    if (layout->v2() != nullptr) {
        EXPECT_TRUE(layout->hierarchies.front().v2);
    }
    if (layout->mode == fleet::CgroupMode::hybrid) {
        EXPECT_EQ(layout->v2()->mount, "/sys/fs/cgroup/unified");
        EXPECT_NE(layout->v1("memory"), nullptr);
    }
}

TEST(CgroupLayout, IgnoresNamedAndUnmountedHierarchies) {
    const std::string self = fleet::test::make_root_scratch("cgroup") + "/cgroup";
    fleet::test::write_file(self, "9:name=systemd:/\n7:nosuchcontroller:/x\n", 0644);
    const auto layout = fleet::cgroup_layout(fleet::k_cgroup_root, self);
    ASSERT_TRUE(layout.ok()) << layout.error().message;
    EXPECT_TRUE(layout->hierarchies.empty());
    EXPECT_EQ(layout->mode, fleet::CgroupMode::none);
    fs::remove_all(fs::path(self).parent_path());
}

// A scratch cgroup beneath this process's own in `hierarchy`, removed at the end; a child in
// it that forks a setsid grandchild, both asleep.
class CgroupKill : public ::testing::Test {
protected:
    void make(const fleet::CgroupHierarchy* hierarchy) {
        if (geteuid() != 0) {
            GTEST_SKIP() << "needs root to make cgroups";
        }
        if (hierarchy == nullptr) {
            GTEST_SKIP() << "this host has no such hierarchy";
        }
        m_path = hierarchy->path() + "/fl-cgroup-test-" + std::to_string(getpid());
        ASSERT_EQ(mkdir(m_path.c_str(), 0755), 0) << m_path << ": " << std::strerror(errno);
        m_dir = fleet::Fd(open(m_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(m_dir.valid());
        m_v2 = hierarchy->v2;
    }

    void start_tree() {
        const fleet::Fd procs(open((m_path + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
        ASSERT_TRUE(procs.valid());
        m_child = fork();
        ASSERT_GE(m_child, 0);
        if (m_child == 0) {
            if (write(procs.get(), "0", 1) != 1) {
                _exit(1);
            }
            if (fork() == 0) {
                setsid();
                pause();
                _exit(0);
            }
            pause();
            _exit(0);
        }
        for (int i = 0; i < 100 && fleet::cgroup_pids(procs_text()).size() < 2; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ASSERT_EQ(fleet::cgroup_pids(procs_text()).size(), 2U);
    }

    std::string procs_text() const { return fleet::test::read_file(m_path + "/cgroup.procs"); }

    bool empties() const {
        for (int i = 0; i < 200 && fleet::cgroup_populated(m_dir.get(), m_v2); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return !fleet::cgroup_populated(m_dir.get(), m_v2);
    }

    void TearDown() override {
        if (m_child > 0) {
            kill(m_child, SIGKILL);
            waitpid(m_child, nullptr, 0);
        }
        if (!m_path.empty()) {
            EXPECT_EQ(rmdir(m_path.c_str()), 0) << m_path << ": " << std::strerror(errno);
        }
    }

    std::string m_path;
    fleet::Fd m_dir;
    bool m_v2 = false;
    pid_t m_child = 0;
};

TEST_F(CgroupKill, V2CgroupKillTakesTheWholeTree) {
    const auto layout = fleet::cgroup_layout();
    ASSERT_TRUE(layout.ok());
    make(layout->v2());
    if (IsSkipped()) {
        return;
    }
    if (!fs::exists(m_path + "/cgroup.kill")) {
        GTEST_SKIP() << "this kernel has no cgroup.kill (5.14)";
    }
    start_tree();
    EXPECT_TRUE(fleet::cgroup_populated(m_dir.get(), true)); // the control
    const fleet::Fd kill_fd(open((m_path + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC));
    EXPECT_EQ(fleet::cgroup_kill(fleet::CgroupKill{m_dir.get(), kill_fd.get(), -1}), 0);
    EXPECT_TRUE(empties()) << procs_text();
    int status = 0;
    ASSERT_EQ(waitpid(m_child, &status, 0), m_child);
    m_child = 0;
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST_F(CgroupKill, V1FreezerKillTakesTheWholeTree) {
    const auto layout = fleet::cgroup_layout();
    ASSERT_TRUE(layout.ok());
    make(layout->v1("freezer"));
    if (IsSkipped()) {
        return;
    }
    start_tree();
    EXPECT_TRUE(fleet::cgroup_populated(m_dir.get(), false)); // the control
    const fleet::Fd freezer(open((m_path + "/freezer.state").c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(freezer.valid());
    EXPECT_EQ(fleet::cgroup_kill(fleet::CgroupKill{m_dir.get(), -1, freezer.get()}), 0);
    EXPECT_TRUE(empties()) << procs_text();
    EXPECT_EQ(fleet::test::read_file(m_path + "/freezer.state"), "THAWED\n");
}

// The v2 limit files dispatch writes and reads (runner/run_cgroups.cpp), where this host's v2
// hierarchy has the controllers.
TEST_F(CgroupKill, V2LimitFiles) {
    const auto layout = fleet::cgroup_layout();
    ASSERT_TRUE(layout.ok());
    const auto& offered = layout->v2_controllers;
    const auto has = [&](const char* controller) {
        return std::find(offered.begin(), offered.end(), controller) != offered.end();
    };
    if (layout->mode != fleet::CgroupMode::unified || !has("memory") || !has("pids")) {
        GTEST_SKIP() << "the v2 hierarchy here offers no memory or pids controller (mode "
                     << fleet::to_string(layout->mode)
                     << ": they are bound to v1), so memory.max, memory.swap.max, memory.peak, "
                        "memory.events, memory.oom.group, pids.max, pids.events and cpu.max "
                        "cannot be tested on this host; the v1 files are (run_cgroups_test, "
                        "limits_test)";
    }
    const fleet::Fd parent(open(layout->v2()->path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    const std::string wanted = has("cpu") ? "+memory +pids +cpu" : "+memory +pids";
    if (const auto enabled = fleet::cgroup_write(parent.get(), "cgroup.subtree_control", wanted);
        !enabled.ok()) {
        GTEST_SKIP() << "controllers cannot be enabled beneath this process's cgroup: "
                     << enabled.error().message;
    }
    make(layout->v2());
    if (IsSkipped()) {
        return;
    }
    for (const auto& [file, value] :
         {std::pair{"memory.max", "67108864"}, std::pair{"memory.oom.group", "1"},
          std::pair{"pids.max", "32"}}) {
        ASSERT_TRUE(fleet::cgroup_write(m_dir.get(), file, value).ok()) << file;
        EXPECT_EQ(fleet::test::read_file(m_path + "/" + file), std::string(value) + "\n");
    }
    if (has("cpu")) {
        ASSERT_TRUE(fleet::cgroup_write(m_dir.get(), "cpu.max", "150000 100000").ok());
        EXPECT_EQ(fleet::test::read_file(m_path + "/cpu.max"), "150000 100000\n");
    }
    for (const auto& [file, key] :
         {std::pair{"memory.events", "oom_kill"}, std::pair{"pids.events", "max"}}) {
        const auto events = fleet::cgroup_read(m_dir.get(), file);
        ASSERT_TRUE(events.ok()) << file;
        EXPECT_EQ(fleet::cgroup_key(*events, key), 0U) << file;
    }
}

} // namespace
