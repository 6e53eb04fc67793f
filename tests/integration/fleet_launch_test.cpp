// Integration tests for fleet-launch: the built binary, run as root, against throwaway users.
// Every refusal has a control that shows the same request passes without the forbidden part.
// This file: the spec matrix, the environment, fds, the pid, the working directory, exit codes,
// signals; the terminal and who may launch at all are in fleet_launch_terminal.cpp, the shared
// fixture in fleet_launch_fixture.hpp.
#include <algorithm>
#include <fcntl.h>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "integration/fleet_launch_fixture.hpp"
#include "support/process.hpp"

namespace {

std::set<std::string> words(const std::string& text) {
    std::set<std::string> result;
    std::istringstream stream(text);
    for (std::string word; stream >> word;) {
        result.insert(word);
    }
    return result;
}

std::set<std::string> gid_set(const std::vector<gid_t>& gids) {
    std::set<std::string> result;
    for (const gid_t gid : gids) {
        result.insert(std::to_string(gid));
    }
    return result;
}

struct GoodSpec {
    std::vector<std::string> args; // options and the spec
    uid_t uid;
    gid_t gid;
    std::vector<gid_t> groups;
};

// The good half of the spec matrix: ids, groups and /proc/self/status after the drop.
TEST_F(FleetLaunch, GoodSpecMatrixDropsToExactlyTheTarget) {
    const std::string a = s_a, b = s_b, ua = std::to_string(s_uid_a), ub = std::to_string(s_uid_b),
                      g2 = s_group["g2"], gid2 = std::to_string(s_gid["g2"]);
    const std::vector<gid_t> a_groups = {s_gid_a, s_gid["g1"], s_gid["g2"], s_gid["g3"]};
    const std::vector<gid_t> b_groups = {s_gid_b, s_gid["g1"], s_gid["g2"], s_gid["g3"],
                                         s_gid["g4"]};
    const std::vector<GoodSpec> specs = {
        {{a}, s_uid_a, s_gid_a, a_groups},
        {{ua}, s_uid_a, s_gid_a, a_groups},
        {{a + ":" + g2}, s_uid_a, s_gid["g2"], {s_gid["g2"]}},
        {{a + ":" + gid2}, s_uid_a, s_gid["g2"], {s_gid["g2"]}},
        {{ua + ":" + g2}, s_uid_a, s_gid["g2"], {s_gid["g2"]}},
        {{ua + ":" + gid2}, s_uid_a, s_gid["g2"], {s_gid["g2"]}},
        {{a + ":" + b}, s_uid_a, s_gid_b, {s_gid_b}},
        {{b}, s_uid_b, s_gid_b, b_groups},
        {{ub}, s_uid_b, s_gid_b, b_groups},
        {{"nobody"}, 65534, 65534, {65534}},
        {{"65534"}, 65534, 65534, {65534}},
        {{"nobody:nogroup"}, 65534, 65534, {65534}},
        {{"--drop-group", g2, a}, s_uid_a, s_gid_a, {s_gid_a, s_gid["g1"], s_gid["g3"]}},
        {{"--drop-group", s_group["g1"], "--drop-group", s_group["g4"], b},
         s_uid_b,
         s_gid_b,
         {s_gid_b, s_gid["g2"], s_gid["g3"]}},
        {{"--drop-group", s_group["g4"], a}, s_uid_a, s_gid_a, a_groups}, // not a member: no-op
        {{"--no-new-privs", a}, s_uid_a, s_gid_a, a_groups},
    };
    for (const GoodSpec& spec : specs) {
        std::string shown;
        for (const std::string& arg : spec.args) {
            shown += arg + " ";
        }
        SCOPED_TRACE("spec: " + shown);
        std::vector<std::string> argv = spec.args;
        argv.insert(argv.end(), {"/bin/sh", "-c", "id -u; id -g; id -G"});
        const ProcessResult ids = launch(argv);
        ASSERT_EQ(ids.exit_code, 0) << ids.err;
        std::istringstream lines(ids.out);
        std::string uid_line, gid_line, groups_line;
        std::getline(lines, uid_line);
        std::getline(lines, gid_line);
        std::getline(lines, groups_line);
        EXPECT_EQ(uid_line, std::to_string(spec.uid));
        EXPECT_EQ(gid_line, std::to_string(spec.gid));
        // id -G lists the effective gid and the supplementary groups.
        std::vector<gid_t> expected_id_groups = spec.groups;
        expected_id_groups.push_back(spec.gid);
        EXPECT_EQ(words(groups_line), gid_set(expected_id_groups));

        const Probe probe = probe_as(spec.args);
        const std::string u = std::to_string(spec.uid), g = std::to_string(spec.gid);
        EXPECT_EQ(probe.at("Uid"), u + " " + u + " " + u + " " + u);
        EXPECT_EQ(probe.at("Gid"), g + " " + g + " " + g + " " + g);
        EXPECT_EQ(words(probe.at("Groups")), gid_set(spec.groups));
        EXPECT_EQ(probe.at("CapPrm"), "0000000000000000");
        EXPECT_EQ(probe.at("CapEff"), "0000000000000000");
        EXPECT_EQ(probe.at("CapAmb"), "0000000000000000");
        const bool nnp =
            std::find(spec.args.begin(), spec.args.end(), "--no-new-privs") != spec.args.end();
        EXPECT_EQ(probe.at("NoNewPrivs"), nnp ? "1" : "0");
    }
}

// The bad half: each is refused with 100 and nothing runs. The control is the good matrix.
TEST_F(FleetLaunch, BadSpecMatrixIsRefusedBeforeAnythingRuns) {
    const std::string a = s_a, ua = std::to_string(s_uid_a);
    const std::vector<std::vector<std::string>> specs = {
        {""},
        {":"},
        {a + ":"},
        {":" + s_group["g1"]},
        {"-1"},
        {"--", "-1"},
        {"4294967295"},
        {"2147483647"},
        {"99999999999999999999"},
        {"0"},
        {"root"},
        {"0:0"},
        {"0day"},
        {"bogus-user-xyz"},
        {a + ":root"},
        {a + ":0"},
        {a + ":" + s_group["g1"] + ":" + s_group["g2"]},
        {"0" + ua},
        {"+" + ua},
        {" " + a},
        {a + ":bogus-group-xyz"},
        {"--drop-group", a, a},                 // the primary group
        {"--drop-group", "bogus-group-xyz", a}, // a typo must not pass silently
    };
    for (const auto& spec : specs) {
        SCOPED_TRACE("spec: '" + spec.back() + "'");
        std::vector<std::string> argv = spec;
        argv.push_back(s_probe);
        const ProcessResult result = launch(argv);
        EXPECT_EQ(result.exit_code, 100) << result.err;
        EXPECT_EQ(result.out, "") << "something ran";
        EXPECT_NE(result.err.find("fleet-launch: "), std::string::npos);
        EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    }
}

TEST_F(FleetLaunch, EnvironmentIsExactlyTheAllowlist) {
    RunOptions options;
    options.env = std::vector<std::string>{"HOME=/root",
                                           "USER=root",
                                           "LOGNAME=root",
                                           "SHELL=/bin/bash",
                                           "PATH=/usr/bin:/bin",
                                           "LD_LIBRARY_PATH=/tmp/evil",
                                           "NODE_OPTIONS=--require /tmp/evil.js",
                                           "PYTHONPATH=/tmp",
                                           "BASH_ENV=/tmp/evil",
                                           "ENV=/tmp/evil",
                                           "IFS=x",
                                           "GIT_SSH_COMMAND=evil",
                                           "AWS_SECRET_ACCESS_KEY=secret",
                                           "AWS_ACCESS_KEY_ID=AKIA",
                                           "SSM_COMMAND_ID=abc",
                                           "AWS_SSM_INSTANCE_ID=i-1",
                                           "FOO=bar",
                                           "TERM=xterm-256color",
                                           "LANG=C.UTF-8",
                                           "LC_ALL=C",
                                           "LC_TIME=C",
                                           "TZ=UTC"};
    const std::string home = "/home/" + s_a;
    std::vector<std::string> expected = {
        "HOME=" + home,
        "USER=" + s_a,
        "LOGNAME=" + s_a,
        "SHELL=/bin/sh",
        "PATH=" + home + "/.local/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
        "TERM=xterm-256color",
        "LANG=C.UTF-8",
        "LC_ALL=C",
        "LC_TIME=C",
        "TZ=UTC"};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(probe_as({s_a}, options).env, expected);

    // --pass-env and --env add exactly what they name.
    expected.push_back("FOO=bar");
    expected.push_back("EXTRA=a b=c");
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(probe_as({"--pass-env", "FOO", "--env", "EXTRA=a b=c", s_a}, options).env, expected);
}

TEST_F(FleetLaunch, InvalidEnvironmentNamesAreUsageErrors) {
    for (const std::vector<std::string>& args : {std::vector<std::string>{"--env", "NOEQUALS", s_a},
                                                 {"--env", "1BAD=x", s_a},
                                                 {"--env", "=x", s_a},
                                                 {"--pass-env", "BAD-NAME", s_a}}) {
        std::vector<std::string> argv = args;
        argv.push_back(s_probe);
        const ProcessResult result = launch(argv);
        EXPECT_EQ(result.exit_code, 100) << args[1];
        EXPECT_EQ(result.out, "");
    }
    EXPECT_EQ(launch({"--env", "GOOD_1=x", s_a, s_probe}).exit_code, 0); // control
}

TEST_F(FleetLaunch, NoInheritedFdReachesTheCommand) {
    const int file_fd = open("/etc/hostname", O_RDONLY); // deliberately not O_CLOEXEC
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    RunOptions options;
    options.keep_fds = {{file_fd, 5}, {pipe_fds[1], 9}};

    // Control: the same fds do reach a process started without fleet-launch.
    const Probe direct = Probe::parse(fleet::test::run({s_probe}, options).out);
    EXPECT_EQ(direct.at("fds"), "0,1,2,5,9");

    EXPECT_EQ(probe_as({s_a}, options).at("fds"), "0,1,2");
    close(file_fd);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

TEST_F(FleetLaunch, ExecKeepsThePid) {
    const ProcessResult result = launch({s_a, s_probe});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(Probe::parse(result.out).at("pid"), std::to_string(result.pid));
}

TEST_F(FleetLaunch, WorkdirDefaultsToHomeNeverTheCallersCwd) {
    RunOptions from_root_home;
    from_root_home.cwd = "/root"; // unreadable to the user, like SSM's cwd
    EXPECT_EQ(probe_as({s_a}, from_root_home).at("cwd"), "/home/" + s_a);
    EXPECT_EQ(probe_as({"--workdir", "/tmp", s_a}).at("cwd"), "/tmp");
    EXPECT_EQ(probe_as({"nobody"}).at("cwd"), "/"); // nobody's home does not exist
}

TEST_F(FleetLaunch, WorkdirIsEnteredAsTheUser) {
    // /root is 0700: root could enter it, the user cannot. 111 and nothing runs.
    const ProcessResult result = launch({"--workdir", "/root", s_a, s_probe});
    EXPECT_EQ(result.exit_code, 111);
    EXPECT_EQ(result.out, "");
    EXPECT_NE(result.err.find("--workdir /root"), std::string::npos) << result.err;
    EXPECT_EQ(launch({"--workdir", "/nonexistent-dir", s_a, s_probe}).exit_code, 111);
}

TEST_F(FleetLaunch, ExitCodes) {
    EXPECT_EQ(launch({s_a, s_probe, "exit", "0"}).exit_code, 0);
    EXPECT_EQ(launch({s_a, s_probe, "exit", "42"}).exit_code, 42);
    EXPECT_EQ(launch({s_a, s_probe, "exit", "255"}).exit_code, 255);
    EXPECT_EQ(launch({s_a, "no-such-command-xyz"}).exit_code, 127);
    EXPECT_EQ(launch({s_a, "/nonexistent/command"}).exit_code, 127);
    const std::string not_executable = s_dir + "/not-executable";
    std::ofstream(not_executable) << "#!/bin/sh\necho ran\n";
    chmod(not_executable.c_str(), 0644);
    const ProcessResult denied = launch({s_a, not_executable});
    EXPECT_EQ(denied.exit_code, 126);
    EXPECT_EQ(denied.out, "");
    EXPECT_EQ(launch({s_a, s_dir}).exit_code, 126); // a directory
    EXPECT_EQ(launch({"--bogus-option", s_a, s_probe}).exit_code, 100);
    EXPECT_EQ(launch({"--no-new", s_a, s_probe}).exit_code, 100); // abbreviation refused
    EXPECT_EQ(launch({s_a}).exit_code, 100);                      // no command
    EXPECT_EQ(launch({}).exit_code, 100);
    EXPECT_EQ(launch({"--help"}).exit_code, 0);
    // Options after USER belong to the command.
    EXPECT_EQ(launch({s_a, "/bin/sh", "-c", "exit 7"}).exit_code, 7);
}

TEST_F(FleetLaunch, SignalMaskAndDispositionsAreReset) {
    const std::vector<std::string> hostile = {"env", "--ignore-signal=PIPE", "--block-signal=TERM"};
    std::vector<std::string> direct = hostile;
    direct.push_back(s_probe);
    const Probe control = Probe::parse(fleet::test::run(direct).out);
    EXPECT_NE(control.at("SigBlk"), "0000000000000000");
    EXPECT_NE(control.at("SigIgn"), "0000000000000000");

    std::vector<std::string> launched = hostile;
    launched.insert(launched.end(), {k_launcher, s_a, s_probe});
    const Probe probe = Probe::parse(fleet::test::run(launched).out);
    EXPECT_EQ(probe.at("SigBlk"), "0000000000000000");
    EXPECT_EQ(probe.at("SigIgn"), "0000000000000000");
}

} // namespace
