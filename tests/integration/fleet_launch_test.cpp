// Integration tests for fleet-launch: the built binary, run as root, against throwaway users.
// Every refusal has a control that shows the same request passes without the forbidden part.
#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/accounts.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using fleet::test::Accounts;
using fleet::test::ProcessResult;
using fleet::test::RunOptions;

namespace {

const std::string k_launcher = FLEET_LAUNCH_PATH;

// What fl-probe printed: key=value lines, and the environment as "env:" lines.
struct Probe {
    std::map<std::string, std::string> values;
    std::vector<std::string> env;

    static Probe parse(const std::string& text) {
        Probe probe;
        std::istringstream stream(text);
        for (std::string line; std::getline(stream, line);) {
            if (line.rfind("env:", 0) == 0) {
                probe.env.push_back(line.substr(4));
            } else if (const size_t eq = line.find('='); eq != std::string::npos) {
                probe.values[line.substr(0, eq)] = line.substr(eq + 1);
            }
        }
        std::sort(probe.env.begin(), probe.env.end());
        return probe;
    }
    const std::string& at(const std::string& key) const { return values.at(key); }
};

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

class FleetLaunch : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        s_accounts = new Accounts();
        for (const char* g : {"g1", "g2", "g3", "g4"}) {
            s_group[g] = Accounts::unique_name(g);
            s_gid[g] = s_accounts->add_group(s_group[g]);
        }
        s_a = Accounts::unique_name("a");
        s_b = Accounts::unique_name("b");
        s_uid_a = s_accounts->add_user(s_a, {s_group["g1"], s_group["g2"], s_group["g3"]});
        // The second user is in every group, so a group taken from the wrong user shows.
        s_uid_b =
            s_accounts->add_user(s_b, {s_group["g1"], s_group["g2"], s_group["g3"], s_group["g4"]});
        s_gid_a = fleet::test::gid_of_group(s_a);
        s_gid_b = fleet::test::gid_of_group(s_b);

        // A copy of fl-probe that every user can run, wherever the build tree lives.
        char pattern[] = "/tmp/fl-launch-test-XXXXXX";
        s_dir = mkdtemp(pattern);
        chmod(s_dir.c_str(), 0755);
        s_probe = s_dir + "/fl-probe";
        fs::copy_file(FL_PROBE_PATH, s_probe);
        chmod(s_probe.c_str(), 0755);
    }
    static void TearDownTestSuite() {
        delete s_accounts;
        fs::remove_all(s_dir);
    }

    static ProcessResult launch(const std::vector<std::string>& args,
                                const RunOptions& options = {}) {
        std::vector<std::string> argv = {k_launcher};
        argv.insert(argv.end(), args.begin(), args.end());
        return fleet::test::run(argv, options);
    }

    // Runs the probe through fleet-launch with `args` before the spec; asserts success.
    static Probe probe_as(const std::vector<std::string>& args, const RunOptions& options = {}) {
        std::vector<std::string> argv = args;
        argv.push_back(s_probe);
        const ProcessResult result = launch(argv, options);
        EXPECT_EQ(result.exit_code, 0) << result.err;
        return Probe::parse(result.out);
    }

    static inline Accounts* s_accounts = nullptr;
    static inline std::map<std::string, std::string> s_group;
    static inline std::map<std::string, gid_t> s_gid;
    static inline std::string s_a, s_b, s_dir, s_probe;
    static inline uid_t s_uid_a = 0, s_uid_b = 0;
    static inline gid_t s_gid_a = 0, s_gid_b = 0;
};

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

// What a root shell under `script` (a terminal on every std stream, and the controlling one)
// reads right after `COMMAND PROBE inject` returns: the probe pushes "echo injected\n"
// into /dev/tty with TIOCSTI, then bash waits 1 s for a line. `redirect` is appended to the
// command (stdio away from the terminal).
fleet::test::ProcessResult injection_session(const std::string& command, const std::string& probe,
                                             const std::string& redirect = "") {
    // script's stdin stays open (no EOF typed into the session) while bash waits.
    return fleet::test::run({"sh", "-c", "sleep 2 | script -qec \"$1\" /dev/null", "sh",
                             "bash -c 'echo outer=$(tty); " + command + " " + probe + " inject" +
                                 redirect + "; read -t 1 line; echo \"after=[$line]\"'"});
}

std::string value_after(const std::string& text, const std::string& key) {
    const size_t at = text.find(key + "=");
    if (at == std::string::npos) {
        return "";
    }
    const size_t start = at + key.size() + 1;
    return text.substr(start, text.find_first_of("\r\n", start) - start);
}

// On root's terminal, a command could type into the shell that started it. fleet-launch gives it
// a pty of its own, relayed: what it injects stays on that pty (the control: setpriv's drop,
// whose command shares root's terminal).
TEST_F(FleetLaunch, TerminalIsNeverSharedWithTheCommand) {
    const std::string setpriv = "setpriv --reuid=" + s_a + " --regid=" + s_a + " --init-groups";
    const ProcessResult control = injection_session(setpriv, s_probe);
    if (value_after(control.out, "tiocsti") != "ok") {
        GTEST_SKIP() << "TIOCSTI is disabled on this kernel (dev.tty.legacy_tiocsti=0): "
                        "no injection to prevent. control said: "
                     << control.out;
    }
    EXPECT_EQ(value_after(control.out, "after"), "[echo injected]") << control.out;
    EXPECT_EQ(value_after(control.out, "tty"), value_after(control.out, "outer"));

    const ProcessResult launched = injection_session(k_launcher + " " + s_a, s_probe);
    EXPECT_EQ(value_after(launched.out, "after"), "[]") << launched.out;
    const std::string inner = value_after(launched.out, "tty");
    EXPECT_EQ(inner.rfind("/dev/pts/", 0), 0U) << launched.out; // it still has a terminal...
    EXPECT_NE(inner, value_after(launched.out, "outer")) << launched.out; // ...its own
}

// A command on root's terminal leaves a child behind that reads what root types next (at 1 s,
// after the command has returned) from the terminal fd it inherited. Through fleet-launch the child
// holds only the command's own pty, which is gone once the command has ended.
TEST_F(FleetLaunch, ABackgroundChildCannotReadWhatRootTypesNext) {
    const std::string stolen = "/home/" + s_a + "/stolen";
    const auto session = [&](const std::string& command) {
        std::filesystem::remove(stolen);
        fleet::test::run({"sh", "-c",
                          "(sleep 1; echo typed-by-root; sleep 1) | script -qec \"$1\" /dev/null",
                          "sh",
                          command + " /bin/sh -c 'exec 3<&0; (sleep 0.3; read x <&3; echo " +
                              "\"stolen=[$x]\" > " + stolen + ") &'; sleep 2"});
        return fleet::test::read_file(stolen);
    };
    const std::string setpriv = "setpriv --reuid=" + s_a + " --regid=" + s_a + " --init-groups";
    EXPECT_EQ(value_after(session(setpriv), "stolen"), "[typed-by-root]"); // control
    EXPECT_NE(value_after(session(k_launcher + " " + s_a), "stolen"), "[typed-by-root]");
    std::filesystem::remove(stolen);
}

// A child the command leaves writing on its pty (ignoring SIGHUP) must not keep root's relay
// copying forever after the command has ended.
TEST_F(FleetLaunch, AWriterLeftOnThePtyDoesNotKeepTheRelayAlive) {
    RunOptions bounded;
    bounded.timeout_seconds = 30;
    const auto started = std::chrono::steady_clock::now();
    const ProcessResult result = fleet::test::run(
        {"script", "-qec",
         k_launcher + " " + s_a + " /bin/sh -c '(trap \"\" HUP; exec yes) & sleep 0.2; exit 3'",
         "/dev/null"},
        bounded);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
    EXPECT_EQ(result.exit_code, 3);
    EXPECT_NE(result.out.find("y\r\ny\r\n"), std::string::npos); // it did relay
}

// With stdio redirected, the command still had root's controlling terminal through /dev/tty.
TEST_F(FleetLaunch, ARedirectedCommandLeavesTheControllingTerminal) {
    const std::string out = s_dir + "/inject.out";
    const std::string redirect = " </dev/null >" + out + " 2>&1";
    const std::string setpriv = "setpriv --reuid=" + s_a + " --regid=" + s_a + " --init-groups";
    const ProcessResult control = injection_session(setpriv, s_probe, redirect);
    const std::string control_out = fleet::test::read_file(out);
    if (value_after(control_out, "tiocsti") != "ok") {
        GTEST_SKIP() << "TIOCSTI is disabled on this kernel: " << control_out;
    }
    EXPECT_EQ(value_after(control.out, "after"), "[echo injected]") << control.out;

    const ProcessResult launched = injection_session(k_launcher + " " + s_a, s_probe, redirect);
    const std::string launched_out = fleet::test::read_file(out);
    EXPECT_EQ(value_after(launched_out, "devtty"), "ENXIO") << launched_out;
    EXPECT_EQ(value_after(launched.out, "after"), "[]") << launched.out;

    // Exec'd by script's shell, fleet-launch leads the terminal's session: it forks first.
    const ProcessResult leader = fleet::test::run(
        {"script", "-qec", "exec " + k_launcher + " " + s_a + " " + s_probe + " inject" + redirect,
         "/dev/null"});
    const std::string leader_out = fleet::test::read_file(out);
    std::filesystem::remove(out);
    EXPECT_EQ(value_after(leader_out, "devtty"), "ENXIO") << leader_out << leader.out;
}

TEST_F(FleetLaunch, ForkedParentPassesTheExitCodeOn) {
    const ProcessResult result = fleet::test::run(
        {"script", "-qec", k_launcher + " " + s_a + " " + s_probe + " exit 42", "/dev/null"});
    // script(1) -e returns the child's exit code.
    EXPECT_EQ(result.exit_code, 42) << result.out;
}

TEST_F(FleetLaunch, NotRootCanOnlyRunAsItself) {
    const std::string as_a = "--reuid=" + s_a;
    const std::vector<std::string> drop = {"setpriv", as_a, "--regid=" + s_a, "--init-groups",
                                           "--reset-env"};
    std::vector<std::string> self = drop;
    self.insert(self.end(), {k_launcher, s_a, s_probe});
    const ProcessResult control = fleet::test::run(self);
    EXPECT_EQ(control.exit_code, 0) << control.err;
    EXPECT_EQ(Probe::parse(control.out).at("Uid").substr(0, std::to_string(s_uid_a).size()),
              std::to_string(s_uid_a));

    std::vector<std::string> other = drop;
    other.insert(other.end(), {k_launcher, s_b, s_probe});
    const ProcessResult refused = fleet::test::run(other);
    EXPECT_EQ(refused.exit_code, 111);
    EXPECT_EQ(refused.out, "");
    EXPECT_NE(refused.err.find("not root"), std::string::npos) << refused.err;
}

TEST_F(FleetLaunch, RefusesASetuidInstall) {
    const std::string copy = s_dir + "/fleet-launch-copy";
    fs::copy_file(k_launcher, copy, fs::copy_options::overwrite_existing);
    chmod(copy.c_str(), 0755);
    EXPECT_EQ(fleet::test::run({copy, s_a, s_probe}).exit_code, 0); // control
    chmod(copy.c_str(), 04755);
    const ProcessResult refused = fleet::test::run({copy, s_a, s_probe});
    EXPECT_EQ(refused.exit_code, 111);
    EXPECT_EQ(refused.out, "");
    fs::remove(copy);
}

// A NOPASSWD sudo user (like cloud images' ubuntu) can climb back after a plain drop;
// with --no-new-privs, sudo cannot gain privileges.
TEST_F(FleetLaunch, NoNewPrivsStopsSudo) {
    const std::string user = Accounts::unique_name("s");
    s_accounts->add_user(user);
    const std::string rule = "/etc/sudoers.d/" + user;
    std::ofstream(rule) << user << " ALL=(ALL) NOPASSWD: ALL\n";
    chmod(rule.c_str(), 0440);
    ASSERT_EQ(fleet::test::run({"visudo", "-cf", rule}).exit_code, 0);

    const ProcessResult control = launch({user, "sudo", "-n", "id", "-u"});
    const ProcessResult refused = launch({"--no-new-privs", user, "sudo", "-n", "id", "-u"});
    fs::remove(rule);
    EXPECT_EQ(control.exit_code, 0) << control.err;
    EXPECT_EQ(control.out, "0\n");
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_EQ(refused.out, "");
    EXPECT_NE(refused.err.find("no new privileges"), std::string::npos) << refused.err;
}

} // namespace
