// fleet-launch (fleet_launch_test suite): the terminal, and who may launch (not root, setuid).
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "integration/fleet_launch_fixture.hpp"
#include "support/accounts.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

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
         // The command ends only once `yes` runs (on a loaded host the fork and exec of the
         // background child can take longer than a fixed sleep), then gives it time to write.
         k_launcher + " " + s_a +
             " /bin/sh -c '(trap \"\" HUP; exec yes) & "
             "until grep -qx \"Name:.yes\" /proc/$!/status; do sleep 0.05; done; "
             "sleep 0.2; exit 3'",
         "/dev/null"},
        bounded);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
    EXPECT_EQ(result.exit_code, 3);
    EXPECT_NE(result.out.find("y\r\ny\r\n"), std::string::npos) // it did relay
        << "out: " << result.out.substr(0, 200) << "\nerr: " << result.err.substr(0, 400);
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
