// Limits, as root with a real user and the host's real cgroups (docs/dispatch.md, "Limits"):
// a memory hog OOM-killed under 64 MiB and recorded, a fork bomb stopped at pids_max, a
// setsid daemon killed with its cgroup, the OOM score every agent gets, an agent that cannot
// leave its cgroup or raise its limit; a read-only cgroupfs (a mount namespace of the test's)
// recorded as "limits not applied", or refused with limits = "required". Each has its control:
// the same agent under a limit it stays within, or with limits = "off".
// These machines are hybrid (v1 memory and pids, v2 for tracking and cgroup.kill), so the
// limits here are v1's; the v2 limit files are tested where the v2 hierarchy has the
// controllers (tests/unit/sys/cgroup_test.cpp says which ran).
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/process.hpp"
#include "support/runner_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using fleet::test::ProcessResult;
using fleet::test::read_file;
using fleet::test::run_id_of;
using fleet::test::survivors;
using fleet::test::write_file;
using nlohmann::json;

class Limits : public fleet::test::RunnerFixture {
protected:
    static void SetUpTestSuite() {
        set_up_runner("l", "limits");
        s_agent = s_dir + "/limits-agent";
        fs::copy_file(std::string(FLEET_SOURCE_DIR) + "/tests/support/limits-agent", s_agent);
        chmod(s_agent.c_str(), 0755);
        write_config(s_config, "");
    }

    void SetUp() override {
        if (!fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes") &&
            !fs::exists("/sys/fs/cgroup/cgroup.controllers")) {
            GTEST_SKIP() << "no cgroup hierarchy with a memory controller on this host";
        }
    }

    // One agent per mode of limits-agent, `top` before them.
    static void write_config(const std::string& path, const std::string& top) {
        std::string text = top + "user = \"" + s_user + "\"\ngrace = \"1s\"\n";
        const auto agent = [&](const std::string& name, const std::string& args,
                               const std::string& extra) {
            text +=
                "[agents." + name + "]\ncommand = [\"" + s_agent + "\", " + args + "]\n" + extra;
        };
        agent("hog", "\"hog\", \"200\"", "memory_max = \"64M\"\n");
        agent("fits", "\"hog\", \"20\"", "memory_max = \"256MiB\"\n");
        agent("bomb", "\"forks\", \"10000\"", "pids_max = 32\n");
        agent("few", "\"forks\", \"8\"", "pids_max = 32\n");
        agent("daemon", "\"daemon\"", "");
        agent("score", "\"score\"", "");
        agent("escape", "\"escape\"", "memory_max = \"64M\"\n");
        agent("cg", "\"cgroup\"", "");
        agent("ghost", "\"ghost\"", "confine = \"off\"\n");
        agent("watch", "\"watch\", \"../work-ghost/ghost.pid\", \"3\"", "confine = \"off\"\n");
        write_file(path, text, 0644);
    }

    // The keeper removes the run's cgroup once it is empty (an rmdir the kernel refuses while
    // a process is in it): gone within its 10 s means nothing of the run was left in it.
    static bool cgroup_removed(const std::string& path) {
        for (int i = 0; i < 150 && fs::exists(path); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return !fs::exists(path);
    }

    // dispatch -a cg run go in a mount namespace where systemd is PID 1, faked: /run/systemd its
    // own (on a /run of its own where the host has no /run/systemd to mount over),
    // /usr/bin/busctl the fake's (tests/fakes/busctl-systemd); `unmanaged` lists the
    // controllers that systemd does not manage. Its stderr ends with what busctl was asked.
    static ProcessResult under_fake_systemd(const std::string& unmanaged) {
        const std::string fake = std::string(FAKES_DIR) + "/busctl-systemd";
        return fleet::test::run(
            {"/usr/bin/unshare", "-m", "/bin/sh", "-c",
             "{ [ -d /run/systemd ] || mount -t tmpfs tmpfs /run; } && mkdir -p /run/systemd && "
             "mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && "
             "echo \"$1\" >/run/systemd/unmanaged && mount --bind \"$0\" /usr/bin/busctl || "
             "exit 99; shift; \"$@\"; rc=$?; cat /run/systemd/busctl.log >&2; exit $rc",
             fake, unmanaged, DISPATCH_PATH, "-c", s_config, "-a", "cg", "run", "go"});
    }

    // What systemd does once a scope is empty: removes it (here, beneath the fake's slice).
    static void remove_fake_scopes() {
        for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup")) {
            const fs::path slice = hierarchy.path() / "fl-fake-systemd.slice";
            if (!fs::exists(slice)) {
                continue;
            }
            for (const auto& scope : fs::directory_iterator(slice)) {
                if (scope.is_directory()) {
                    EXPECT_TRUE(cgroup_removed_after(scope.path() / "caller")) << scope.path();
                    EXPECT_TRUE(cgroup_removed_after(scope.path())) << scope.path();
                }
            }
            EXPECT_EQ(rmdir(slice.c_str()), 0) << slice;
        }
    }

    // rmdir `path` as soon as the kernel lets it (its processes gone), within 15 s.
    static bool cgroup_removed_after(const fs::path& path) {
        for (int i = 0; i < 150 && fs::exists(path); ++i) {
            if (rmdir(path.c_str()) != 0) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
        return !fs::exists(path);
    }

    static inline std::string s_agent;
};

TEST_F(Limits, AMemoryHogIsKilledAndRecordedAsOutOfMemory) {
    const ProcessResult result = dispatch({"-a", "hog,fits", "run", "go"});
    const std::string id = run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out << result.err;
    EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
    const json status = status_json(id);
    ASSERT_TRUE(status.at("limits").at("applied").get<bool>()) << status.dump(2);
    const json hog = agent_of(status, "hog");
    EXPECT_EQ(hog.at("state"), "failed");
    EXPECT_EQ(hog.at("reason"), "out of memory (limit 64 MiB)");
    EXPECT_EQ(hog.at("signal"), 9);
    EXPECT_GE(hog.at("resources").at("oom_kills").get<int>(), 1);
    EXPECT_GE(hog.at("resources").at("memory_peak").get<uint64_t>(), uint64_t{60} << 20);
    EXPECT_LE(hog.at("resources").at("memory_peak").get<uint64_t>(), uint64_t{64} << 20);
    EXPECT_TRUE(hog.at("resources").contains("cpu_seconds"));
    EXPECT_EQ(hog.at("limits").at("memory_max"), uint64_t{64} << 20);
    EXPECT_NE(result.out.find("out of memory (limit 64 MiB)"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("peak 64 MiB"), std::string::npos) << result.out;
    // The control: 20 MiB within 256 MiB.
    const json fits = agent_of(status, "fits");
    EXPECT_EQ(fits.at("state"), "succeeded") << fits.dump(2);
    EXPECT_EQ(fits.at("resources").at("oom_kills"), 0);
    EXPECT_GE(fits.at("resources").at("memory_peak").get<uint64_t>(), uint64_t{20} << 20);
    EXPECT_TRUE(cgroup_removed(status.at("limits").at("cgroup")));
}

TEST_F(Limits, AForkBombStopsAtPidsMaxAndTheRunEndsCleanly) {
    const auto start = std::chrono::steady_clock::now();
    const ProcessResult result = dispatch({"-a", "bomb,few", "run", "go"});
    const std::string id = run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out << result.err;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
    const json status = status_json(id);
    const json bomb = agent_of(status, "bomb");
    EXPECT_EQ(bomb.at("state"), "failed");
    EXPECT_EQ(bomb.at("reason"), "process limit (32)");
    EXPECT_GE(bomb.at("resources").at("pids_limit_hits").get<int>(), 1);
    const std::string log = read_file(run_dir(id) + "/bomb.log");
    EXPECT_NE(log.find("forked 31"), std::string::npos) << log; // 32 with the agent itself
    // The control: eight children stay within the limit.
    const json few = agent_of(status, "few");
    EXPECT_EQ(few.at("state"), "succeeded") << few.dump(2);
    EXPECT_EQ(few.at("resources").at("pids_limit_hits"), 0);
    EXPECT_TRUE(survivors(id).empty());
    EXPECT_TRUE(cgroup_removed(status.at("limits").at("cgroup")));
}

TEST_F(Limits, ASetsidDaemonDiesWithItsCgroup) {
    const ProcessResult result = dispatch({"-a", "daemon", "run", "go"});
    const std::string id = run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out << result.err;
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_NE(read_file(run_dir(id) + "/daemon.log").find("daemon started"), std::string::npos);
    EXPECT_TRUE(survivors(id).empty());
    const json status = status_json(id);
    const std::string cgroup = status.at("limits").at("cgroup");
    EXPECT_TRUE(cgroup_removed(cgroup)) << cgroup;
}

// A daemon that left its agent's group, session and environment markers is still in its
// cgroup: killed when its agent ends (grace 1 s), while the run goes on. The control: with
// limits = "off" only the end of the run's PID namespace gets it.
TEST_F(Limits, ADaemonWithoutMarkersDiesWithItsAgentsCgroup) {
    const std::string off = s_dir + "/ghost-off.toml";
    write_config(off, "limits = \"off\"\n");
    for (const auto& [config, verdict] :
         {std::pair{s_config, "ghost gone"}, std::pair{off, "ghost alive"}}) {
        const ProcessResult result = dispatch({"-a", "ghost,watch", "run", "go"}, {}, config);
        const std::string id = run_id_of(result.out);
        ASSERT_FALSE(id.empty()) << result.out << result.err;
        EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
        const std::string log = read_file(run_dir(id) + "/watch.log");
        EXPECT_NE(log.find(verdict), std::string::npos) << config << ": " << log;
        EXPECT_TRUE(survivors(id).empty());
    }
}

TEST_F(Limits, EveryAgentGetsTheConfiguredOomScore) {
    ProcessResult result = dispatch({"-a", "score", "run", "go"});
    std::string id = run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out << result.err;
    EXPECT_NE(read_file(run_dir(id) + "/score.log").find("oom_score_adj 500"), std::string::npos);
    EXPECT_EQ(agent_of(status_json(id), "score").at("limits").at("oom_score_adj"), 500);
    const std::string config = s_dir + "/score.toml";
    write_config(config, "oom_score_adj = 900\n");
    result = dispatch({"-a", "score", "run", "go"}, {}, config);
    id = run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out << result.err;
    EXPECT_NE(read_file(run_dir(id) + "/score.log").find("oom_score_adj 900"), std::string::npos);
}

TEST_F(Limits, AnAgentCannotLeaveItsCgroupNorRaiseItsLimit) {
    if (!fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes")) {
        GTEST_SKIP() << "the escape agent reads the v1 memory hierarchy, which this host lacks";
    }
    for (const std::string& config : {s_config, s_dir + "/unconfined.toml"}) {
        write_config(s_dir + "/unconfined.toml", "confine = \"off\"\n");
        const ProcessResult result = dispatch({"-a", "escape", "run", "go"}, {}, config);
        const std::string id = run_id_of(result.out);
        ASSERT_FALSE(id.empty()) << result.out << result.err;
        const std::string log = read_file(run_dir(id) + "/escape.log");
        EXPECT_NE(log.find("read 67108864"), std::string::npos) << log; // the control
        EXPECT_EQ(log.find("ESCAPED"), std::string::npos) << log;
        EXPECT_EQ(fleet::test::lines_of(log).size(), 7U) << log;
        // Lowering its own score back: Landlock refuses it to a confined agent; unconfined,
        // only where root could set the floor (CAP_SYS_RESOURCE, which these machines' root
        // lacks), so that case is not judged here.
        if (config == s_config) {
            EXPECT_NE(log.find("lower refused"), std::string::npos) << log;
        }
    }
}

TEST_F(Limits, LimitsOffMakesNoCgroup) {
    const std::string config = s_dir + "/off.toml";
    write_config(config, "limits = \"off\"\n");
    const ProcessResult result = dispatch({"-a", "fits", "run", "go"}, {}, config);
    const std::string id = run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out << result.err;
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    const json status = status_json(id);
    EXPECT_EQ(status.at("limits").at("mode"), "off");
    EXPECT_FALSE(status.at("limits").at("applied").get<bool>());
    const json fits = agent_of(status, "fits");
    EXPECT_EQ(fits.at("limits").at("reason"), "limits = \"off\"");
    EXPECT_FALSE(fits.contains("resources"));
    EXPECT_EQ(result.out.find("limits not applied"), std::string::npos) << result.out;
}

// dispatch in a mount namespace of its own whose cgroup mounts are read-only: mkdir fails.
ProcessResult in_read_only_cgroupfs(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {
        "/usr/bin/unshare",
        "-m",
        "/bin/sh",
        "-c",
        "for m in $(awk '$3 ~ /^cgroup/ {print $2}' /proc/mounts); do "
        "mount -o remount,bind,ro \"$m\" || exit 99; done; exec \"$@\"",
        "sh"};
    argv.insert(argv.end(), args.begin(), args.end());
    return fleet::test::run(argv);
}

TEST_F(Limits, AReadOnlyCgroupfsIsRecordedOrRefusedWhenRequired) {
    ProcessResult result =
        in_read_only_cgroupfs({DISPATCH_PATH, "-c", s_config, "-a", "fits", "run", "go"});
    ASSERT_NE(result.exit_code, 99) << result.err;
    std::string id = run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out << result.err;
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    json status = status_json(id);
    EXPECT_FALSE(status.at("limits").at("applied").get<bool>());
    const std::string reason = status.at("limits").at("reason");
    EXPECT_NE(reason.find("Read-only file system"), std::string::npos) << reason;
    EXPECT_NE(result.out.find("limits not applied ("), std::string::npos) << result.out;
    EXPECT_FALSE(agent_of(status, "fits").at("limits").at("applied").get<bool>());

    const std::string required = s_dir + "/required.toml";
    write_config(required, "limits = \"required\"\n");
    const size_t runs_before =
        std::distance(fs::directory_iterator(s_runs), fs::directory_iterator{});
    result = in_read_only_cgroupfs({DISPATCH_PATH, "-c", required, "-a", "fits", "run", "go"});
    EXPECT_EQ(result.exit_code, 3) << result.out << result.err;
    EXPECT_NE(result.err.find("limits = \"required\", but they cannot be applied: mkdir "),
              std::string::npos)
        << result.err;
    EXPECT_EQ(fleet::test::lines_of(result.err).size(), 1U) << result.err;
    EXPECT_EQ(std::distance(fs::directory_iterator(s_runs), fs::directory_iterator{}),
              static_cast<long>(runs_before)); // no run was made: no agent started
    // The control: required, on the host's writable cgroupfs.
    result = dispatch({"-a", "fits", "run", "go"}, {}, required);
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    id = run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out << result.err;
    EXPECT_TRUE(status_json(id).at("limits").at("applied").get<bool>());
}

TEST_F(Limits, ConfigShowsTheLimitsInForce) {
    const std::string config = s_dir + "/shown.toml";
    write_config(config, "memory_max = \"1G\"\npids_max = 500\ncpu_max = 1.5\n");
    const ProcessResult result = dispatch({"config"}, {}, config);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    for (const char* line :
         {"\nlimits = \"auto\"\nmemory_max = 1073741824 # 1 GiB\npids_max = 500\ncpu_max = 1.5\n"
          "oom_score_adj = 500\n",
          "\nmemory_max = 67108864 # 64 MiB\n"}) {
        EXPECT_NE(result.out.find(line), std::string::npos) << line << result.out;
    }
    // The defaults, filled in: the run's memory is 3/4 of the host's.
    const ProcessResult defaults = dispatch({"config"});
    EXPECT_NE(defaults.out.find("\npids_max = 8192\n"), std::string::npos) << defaults.out;
}

// Systemd as PID 1, faked (tests/fakes/busctl-systemd): the run asks for a transient scope
// with Delegate=yes holding dispatch, and makes its cgroups beneath it, never beside it in the
// cgroup of the unit that started it.
TEST_F(Limits, UnderSystemdTheRunMakesItsCgroupsInADelegatedScope) {
    if (fs::exists("/run/systemd/system")) {
        GTEST_SKIP() << "systemd is PID 1 here: the fake would stand in for the real one";
    }
    const ProcessResult result = under_fake_systemd("");
    ASSERT_NE(result.exit_code, 99) << result.err;
    const std::string id = run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out << result.err;
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_NE(result.err.find(" PIDs au 1 "), std::string::npos) << result.err;
    EXPECT_NE(result.err.find(" Delegate b true TasksMax t 18446744073709551615 "),
              std::string::npos)
        << result.err;
    const json status = status_json(id);
    ASSERT_TRUE(status.at("limits").at("applied").get<bool>()) << status.dump(2);
    const std::string cgroup = status.at("limits").at("cgroup");
    EXPECT_NE(cgroup.find("/fl-fake-systemd.slice/fleet-dispatch-run-"), std::string::npos)
        << cgroup;
    EXPECT_NE(cgroup.find(".scope/fleet-dispatch/run-"), std::string::npos) << cgroup;
    // The agent is in its leaf beneath the scope in every hierarchy.
    const std::string log = read_file(run_dir(id) + "/cg.log");
    EXPECT_NE(log.find("memory:/"), std::string::npos) << log;
    for (const std::string& line : fleet::test::lines_of(log)) {
        if (line.find("name=") == std::string::npos && line.find(":memory:") != std::string::npos) {
            EXPECT_NE(line.find(".scope/fleet-dispatch/run-"), std::string::npos) << line;
            EXPECT_NE(line.find("/agent-cg"), std::string::npos) << line;
        }
    }
    EXPECT_TRUE(cgroup_removed(cgroup));
    remove_fake_scopes();
}

// Under a systemd that does not manage pids (219, Amazon Linux 2) the scope never holds
// dispatch in the pids hierarchy: the run goes on after a second, its pids tree where
// dispatch is, its memory tree beneath the scope.
TEST_F(Limits, UnderAnOldSystemdAControllerItDoesNotManageStaysWhereDispatchIs) {
    if (fs::exists("/run/systemd/system") || !fs::exists("/sys/fs/cgroup/pids/cgroup.procs")) {
        GTEST_SKIP() << "needs no systemd as PID 1 and a v1 pids hierarchy";
    }
    const ProcessResult result = under_fake_systemd("pids");
    ASSERT_NE(result.exit_code, 99) << result.err;
    const std::string id = run_id_of(result.out);
    ASSERT_FALSE(id.empty()) << result.out << result.err;
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    const json status = status_json(id);
    EXPECT_TRUE(status.at("limits").at("applied").get<bool>()) << status.dump(2);
    bool saw_pids = false;
    for (const std::string& line : fleet::test::lines_of(read_file(run_dir(id) + "/cg.log"))) {
        if (line.find(":memory:") != std::string::npos) {
            EXPECT_NE(line.find(".scope/fleet-dispatch/run-"), std::string::npos) << line;
        }
        if (line.find(":pids:") != std::string::npos) {
            saw_pids = true;
            EXPECT_EQ(line.find(".scope/"), std::string::npos) << line;
            EXPECT_NE(line.find("/fleet-dispatch/run-"), std::string::npos) << line;
        }
    }
    EXPECT_TRUE(saw_pids);
    EXPECT_TRUE(cgroup_removed(status.at("limits").at("cgroup")));
    remove_fake_scopes();
}

TEST_F(Limits, BadLimitsAreOneLineConfigErrors) {
    for (const auto& [top, key] :
         {std::pair{"memory_max = \"2 gigs\"\n", "memory_max"},
          std::pair{"memory_max = \"1M\"\n", "memory_max"}, std::pair{"pids_max = 0\n", "pids_max"},
          std::pair{"cpu_max = 0\n", "cpu_max"}, std::pair{"cpu_max = \"two\"\n", "cpu_max"},
          std::pair{"oom_score_adj = -100\n", "oom_score_adj"},
          std::pair{"limits = \"maybe\"\n", "limits"},
          std::pair{"memory_max = \"32M\"\n", "agents.escape.memory_max"},
          std::pair{"pids_max = 16\n", "agents.bomb.pids_max"}}) {
        const std::string config = s_dir + "/bad.toml";
        write_config(config, top);
        const ProcessResult result = dispatch({"-a", "fits", "run", "go"}, {}, config);
        EXPECT_EQ(result.exit_code, 2) << top << result.err;
        EXPECT_NE(result.err.find(std::string(": ") + key + ": "), std::string::npos)
            << top << result.err;
        EXPECT_EQ(fleet::test::lines_of(result.err).size(), 1U) << result.err;
        EXPECT_TRUE(run_id_of(result.out).empty());
    }
}

} // namespace
