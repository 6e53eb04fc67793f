// Integration tests for fleet-diag, as root: the file commands against real symlinks, hard
// links, bind mounts (in a private mount namespace via unshare -m), FIFOs and device nodes, with
// openat2 and with the fallback resolver forced by a seccomp filter; the tools through recording
// fakes. Every refusal has a control that passes. This file: the file and tool commands run
// locally; the whole channel through a real sshd on 127.0.0.1 with ForceCommand, a throwaway
// diag user and key, is in diag_ssh.cpp, the shared fixture in diag_fixture.hpp.
#include <algorithm>
#include <filesystem>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/diag_fixture.hpp"
#include "support/accounts.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

TEST_F(Diag, ReadsAllowedFilesFromAPinnedFd) {
    ProcessResult result = diag({"cat", tree("app.log")});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "line 1\nline 2\nline 3\nline 4\n");
    EXPECT_EQ(diag({"head", "-n", "2", tree("app.log")}).out, "line 1\nline 2\n");
    EXPECT_EQ(diag({"tail", "-n", "1", tree("app.log")}).out, "line 4\n");
    EXPECT_EQ(diag({"ls", s_root + "/tree"}).out, "app.log\nsub\n");
    EXPECT_NE(diag({"ls", "-l", "-a", s_root + "/tree"}).out.find(" root root "),
              std::string::npos);
    EXPECT_NE(diag({"stat", tree("app.log")}).out.find("Type: regular file"), std::string::npos);
    EXPECT_EQ(diag({"cat", "/etc/hostname"}).out, read_file("/etc/hostname"));
    EXPECT_EQ(diag({"cat", "/proc/loadavg"}).exit_code, 0);
    EXPECT_EQ(diag({"tail", "-n", "1", "/proc/1/status"}).exit_code, 0);
    const json line = audit_lines().back();
    EXPECT_EQ(line["decision"], "allowed");
    EXPECT_EQ(line["request"]["path"], "/proc/1/status");
    EXPECT_EQ(line["resolver"], "openat2");
}

// Each row: a refused read and its control, the same shape on an allowed file.
TEST_F(Diag, RefusesSecretsAndAliasesWithAControlEach) {
    fs::create_symlink(s_root + "/secret.txt", tree("link"));
    fs::create_symlink("/etc", tree("etc-link"));
    fs::create_hard_link(s_root + "/secret.txt", tree("hard"));
    write_file(s_root + "/outside.txt", "TOP-SECRET-OUTSIDE\n", 0644); // not denied, not a root
    fs::create_hard_link(s_root + "/outside.txt", tree("hard2"));
    ASSERT_EQ(mkfifo(tree("fifo").c_str(), 0644), 0);
    ASSERT_EQ(mknod(tree("null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    struct Case {
        std::vector<std::string> refused;
        std::string why;
    };
    const std::vector<Case> cases = {
        {{"cat", tree("link")}, "symbolic link"},
        {{"cat", tree("etc-link") + "/hostname"}, "symbolic link"},
        {{"cat", tree("hard")}, "denied"},
        {{"cat", tree("hard2")}, "hard links"},
        {{"cat", tree("fifo")}, "fifo"},
        {{"cat", tree("null")}, "device"},
        {{"cat", "/etc/shadow"}, "denied"},
        {{"stat", "/etc/shadow"}, "denied"},
        {{"cat", "/etc/sudoers"}, "denied"},
        {{"ls", "/etc/sudoers.d"}, "denied"},
        {{"cat", "/etc/ssh/ssh_host_ed25519_key"}, "denied"},
        {{"cat", "/proc/1/cwd/etc/hostname"}, "symbolic link"},
        {{"cat", "/proc/1/root/etc/hostname"}, "symbolic link"},
        {{"cat", "/proc/1/environ/x"}, ""},
        {{"cat", s_root + "/secret.txt"}, "not under an allowed root"},
        {{"cat", "/root/.bashrc"}, "not under an allowed root"},
        {{"cat", "/proc/self/environ"}, "not under an allowed root"},
        {{"cat", s_root + "/tree"}, "directory"},
    };
    for (const Case& c : cases) {
        const ProcessResult result = diag(c.refused);
        EXPECT_NE(result.exit_code, 0) << c.refused[1];
        EXPECT_EQ(result.out, "") << c.refused[1];
        EXPECT_NE(result.err.find(c.why), std::string::npos) << c.refused[1] << ": " << result.err;
        EXPECT_EQ(result.out.find("TOP-SECRET"), std::string::npos);
        const ProcessResult control = diag({c.refused[0], tree("app.log")});
        EXPECT_EQ(control.exit_code, 0) << control.err;
    }
    EXPECT_EQ(diag({"cat", "/etc/ssh/ssh_host_ed25519_key.pub"}).exit_code, 0);
    EXPECT_EQ(diag({"cat", "/etc/passwd"}).exit_code, 0);
    for (const char* name : {"link", "etc-link", "hard", "hard2", "fifo", "null"}) {
        fs::remove(tree(name));
    }
}

TEST_F(Diag, RefusesBindMountsOfDeniedFilesAndDirectories) {
    const std::string mounts = "touch " + tree("bound") + " && mkdir -p " + tree("mnt") + " " +
                               tree("persisted-dir") + " && touch " + tree("token");
    const std::string setup_secret = mounts + " && mount --bind " + s_root + "/secret.txt " +
                                     tree("bound") + " && mount --bind " + s_root + "/secret-dir " +
                                     tree("mnt") + " && mount --bind " + s_root + "/persist" +
                                     s_root + "/state/token " + tree("token");
    for (const bool fallback : {false, true}) {
        for (const std::string& path : {tree("bound"), tree("mnt") + "/inner/key", tree("token")}) {
            const ProcessResult result = diag_in_namespace(setup_secret, {"cat", path}, fallback);
            EXPECT_EQ(result.exit_code, 125) << path << " fallback=" << fallback << result.err;
            EXPECT_EQ(result.out.find("TOP-SECRET"), std::string::npos) << result.out;
            EXPECT_NE(result.err.find("denied"), std::string::npos) << result.err;
        }
        // Control: a bind mount of an allowed file reads fine.
        const ProcessResult control =
            diag_in_namespace(mounts + " && mount --bind " + tree("app.log") + " " + tree("bound"),
                              {"cat", tree("bound")}, fallback);
        EXPECT_EQ(control.exit_code, 0) << control.err;
        EXPECT_EQ(control.out, "line 1\nline 2\nline 3\nline 4\n");
    }
    for (const char* name : {"bound", "mnt", "persisted-dir", "token"}) {
        fs::remove(tree(name));
    }
}

TEST_F(Diag, TheFallbackResolverRefusesWhatOpenat2Refuses) {
    fs::create_symlink(s_root + "/secret.txt", tree("link2"));
    fs::create_symlink(s_root, tree("up"));
    const auto without_openat2 = [&](const std::vector<std::string>& words) {
        std::vector<std::string> argv{k_enosys, "openat2", s_diag, "--policy", s_policy, "--"};
        argv.insert(argv.end(), words.begin(), words.end());
        return fleet::test::run(argv);
    };
    for (const std::string& path :
         {tree("link2"), tree("up") + "/secret.txt", std::string("/proc/1/cwd/etc/hostname")}) {
        const ProcessResult result = without_openat2({"cat", path});
        EXPECT_EQ(result.exit_code, 125) << path << result.err;
        EXPECT_NE(result.err.find("symbolic link"), std::string::npos) << result.err;
    }
    const ProcessResult control = without_openat2({"cat", tree("sub/nested.log")});
    EXPECT_EQ(control.exit_code, 0) << control.err;
    EXPECT_EQ(control.out, "nested\n");
    EXPECT_EQ(audit_lines().back()["resolver"], "walk");
    fs::remove(tree("link2"));
    fs::remove(tree("up"));
}

TEST_F(Diag, RunsEachToolWithTheArgvItBuilt) {
    const std::string fake = s_root + "/fake/";
    const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
        {{"systemctl", "is-active", "nginx"},
         {fake + "systemctl", "--no-pager", "--no-ask-password", "is-active", "--", "nginx"}},
        {{"systemctl", "is-active", "nginx", "ssh"},
         {fake + "systemctl", "--no-pager", "--no-ask-password", "is-active", "--", "nginx",
          "ssh"}},
        {{"systemctl", "list-units", "--failed"},
         {fake + "systemctl", "--no-pager", "--no-ask-password", "list-units", "--failed"}},
        {{"systemctl", "list-timers"},
         {fake + "systemctl", "--no-pager", "--no-ask-password", "list-timers"}},
        {{"journalctl", "-u", "nginx", "-n", "20", "--since", "2026-11-01 10:00", "-p", "err", "-o",
          "short-iso"},
         {fake + "journalctl", "--no-pager", "--quiet", "--lines=20", "--unit=nginx",
          "--since=2026-11-01 10:00", "--priority=err", "--output=short-iso"}},
        {{"df"}, {fake + "df", "-h"}},
        {{"free"}, {fake + "free", "-h"}},
        {{"uptime"}, {fake + "uptime"}},
        {{"ps"}, {fake + "ps", "-eo", "pid,ppid,user,%cpu,%mem,etime,stat,comm"}},
        {{"ss", "-tlnu"}, {fake + "ss", "-tlnu"}},
        {{"docker", "ps"},
         {fake + "docker", "ps", "--format", "table {{.Names}}\\t{{.Image}}\\t{{.Status}}"}},
        {{"podman", "logs", "--tail", "5", "web"},
         {fake + "podman", "logs", "--tail", "5", "--", "web"}},
    };
    for (const auto& [request, argv] : cases) {
        const ProcessResult result = diag(request);
        EXPECT_EQ(result.exit_code, 0) << request[0] << result.err;
        EXPECT_EQ(recorded_argv(), argv);
    }
    // status: the unit's state from `systemctl show`, never systemctl's status page, which
    // prints the unit's process tree with every command line in it.
    EXPECT_EQ(diag({"systemctl", "status", "nginx"}).exit_code, 0);
    const std::vector<std::string> status = recorded_argv();
    ASSERT_EQ(status.size(), 7U);
    EXPECT_EQ(status[3], "show");
    EXPECT_EQ(status[4].rfind("--property=", 0), 0U);
    EXPECT_EQ(status[6], "nginx");
    std::vector<std::string> env = lines_of(read_file(s_root + "/record/env"));
    std::erase_if(env, [](const std::string& line) { return line.rfind("PWD=", 0) == 0; });
    std::sort(env.begin(), env.end());
    EXPECT_EQ(env, (std::vector<std::string>{"LANG=C.UTF-8", "LC_ALL=C.UTF-8", "LESSSECURE=1",
                                             "PAGER=cat", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                             "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=cat",
                                             "SYSTEMD_PAGERSECURE=1", "TERM=dumb"}));
}

TEST_F(Diag, RefusedToolRequestsRunNothing) {
    for (const std::vector<std::string>& request :
         std::vector<std::vector<std::string>>{{"journalctl", "-D", "/tmp"},
                                               {"journalctl", "--no-pag"},
                                               {"journalctl", "-f"},
                                               {"systemctl", "edit", "nginx"},
                                               {"systemctl", "status", "ngin*"},
                                               {"systemctl", "status", "user.slice"},
                                               {"systemctl", "status", "init.scope"},
                                               {"journalctl", "-o", "json"},
                                               {"journalctl", "-o", "verbose"},
                                               {"docker", "-H", "tcp://x", "ps"},
                                               {"docker", "inspect", "web"},
                                               {"less", "/etc/hostname"},
                                               {"cat", "/etc/hostname;", "id"}}) {
        const ProcessResult result = diag(request);
        EXPECT_EQ(result.exit_code, 125) << request[0] << " " << request[1];
        EXPECT_FALSE(fs::exists(s_root + "/record/argv"));
    }
    EXPECT_EQ(diag({"journalctl", "-n", "5"}).exit_code, 0); // control
    EXPECT_EQ(diag({"journalctl", "-o", "short-iso"}).exit_code, 0);
    EXPECT_EQ(diag({"systemctl", "status", "nginx.service"}).exit_code, 0);
}

TEST_F(Diag, PassesTheToolsExitCodeAndEscapesItsOutput) {
    write_file(s_root + "/record/mode", "fail", 0644);
    ProcessResult result = diag({"systemctl", "is-active", "nginx"});
    EXPECT_EQ(result.exit_code, 4);
    EXPECT_NE(result.out.find("could not be found"), std::string::npos);

    write_file(s_root + "/record/mode", "escape", 0644);
    result = diag({"journalctl", "-u", "ssh"});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.out.find('\x1b'), std::string::npos);
    EXPECT_EQ(result.out.find('\x07'), std::string::npos);
    EXPECT_EQ(result.out, "Nov 22 host sshd: \\x1b]0;owned\\x07\\x1b[2J invalid \\xff user\n");
}

TEST_F(Diag, CapsOutputAndTimesOutTools) {
    write_file(tree("big.log"), std::string(10000, 'x') + "\n", 0644);
    write_policy("max_output = 4096\ntimeout = \"1s\"\n");
    ProcessResult result = diag({"cat", tree("big.log")});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.out, std::string(4096, 'x') + "\n[output truncated at 4096 bytes]\n");

    write_file(s_root + "/record/mode", "hang", 0644);
    result = diag({"df"});
    EXPECT_EQ(result.exit_code, 124);
    EXPECT_NE(result.err.find("timed out"), std::string::npos);
    EXPECT_TRUE(fleet::test::gone_within(std::stoi(read_file(s_root + "/record/hang.pid")), 2));
    EXPECT_TRUE(fleet::test::gone_within(std::stoi(read_file(s_root + "/record/sleep.pid")), 2));
    write_policy("");
    fs::remove(tree("big.log"));
}

TEST_F(Diag, SessionShapeAndPolicyNarrowing) {
    RunOptions tty;
    tty.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "SSH_TTY=/dev/pts/3"};
    EXPECT_EQ(diag({"df"}, tty).exit_code, 125);
    RunOptions sshd;
    sshd.env = std::vector<std::string>{"SSH_CONNECTION=127.0.0.1 5 127.0.0.1 22"};
    EXPECT_EQ(diag({"df"}, sshd).exit_code, 125); // --policy under sshd
    EXPECT_EQ(diag({"df"}).exit_code, 0);         // control

    const ProcessResult empty = fleet::test::run({s_diag, "--policy", s_policy});
    EXPECT_EQ(empty.exit_code, 0);
    EXPECT_NE(empty.out.find("Allowed requests"), std::string::npos);

    write_policy("commands = [\"cat\", \"journalctl\"]\nunits = [\"nginx\"]\n");
    EXPECT_EQ(diag({"df"}).exit_code, 125);
    EXPECT_EQ(diag({"journalctl", "-u", "ssh"}).exit_code, 125);
    EXPECT_EQ(diag({"journalctl", "-u", "nginx"}).exit_code, 0);
    EXPECT_EQ(diag({"journalctl", "-n", "5"}).exit_code, 125); // the whole journal: every unit
    EXPECT_EQ(diag({"cat", tree("app.log")}).exit_code, 0);
    write_policy("");
    EXPECT_EQ(diag({"journalctl", "-n", "5"}).exit_code, 0); // control: no unit list
}

TEST_F(Diag, RefusesEverythingWithAnUntrustedPolicyOrAuditLog) {
    chmod(s_policy.c_str(), 0666);
    EXPECT_EQ(diag({"df"}).exit_code, 125);
    chmod(s_policy.c_str(), 0644);
    EXPECT_EQ(diag({"df"}).exit_code, 0);
    const std::string log = s_root + "/log/diag.log";
    chmod(log.c_str(), 0666);
    ProcessResult result = diag({"df"});
    EXPECT_EQ(result.exit_code, 125);
    EXPECT_NE(result.err.find("audit log unavailable"), std::string::npos);
    chmod(log.c_str(), 0620);
    EXPECT_EQ(diag({"df"}).exit_code, 0);

    // It never creates its log, not even as root: a log no one set up is refused.
    fs::remove(log);
    EXPECT_EQ(diag({"df"}).exit_code, 125);
    EXPECT_FALSE(fs::exists(log));
    make_audit_log();
    EXPECT_EQ(diag({"df"}).exit_code, 0); // control

    // The log's directory must be root's and not group/other-writable; above it, a group may
    // write (Ubuntu's /var/log is root:syslog 0775), others may not.
    const std::string var_log = s_root + "/var-log";
    fs::create_directories(var_log + "/fleet-diag");
    write_file(var_log + "/fleet-diag/audit.log", "", 0620);
    ASSERT_EQ(chown(var_log.c_str(), 0, fleet::test::gid_of_group("adm")), 0);
    std::string text = policy_text("");
    text.replace(text.find(log), log.size(), var_log + "/fleet-diag/audit.log");
    const std::string ubuntu_policy = s_root + "/ubuntu-log.toml";
    write_file(ubuntu_policy, text, 0644);
    const auto df = [&] {
        return fleet::test::run({s_diag, "--policy", ubuntu_policy, "--", "df"}).exit_code;
    };
    chmod(var_log.c_str(), 0775);
    EXPECT_EQ(df(), 0) << "a group-writable /var/log (Ubuntu's root:syslog 0775) was refused";
    chmod(var_log.c_str(), 0777);
    EXPECT_EQ(df(), 125);
    chmod(var_log.c_str(), 0775);
    chmod((var_log + "/fleet-diag").c_str(), 0775);
    EXPECT_EQ(df(), 125);
    chmod((var_log + "/fleet-diag").c_str(), 0755);
    EXPECT_EQ(df(), 0);
    fs::remove_all(var_log);
    fs::remove(ubuntu_policy);
}

TEST_F(Diag, AuditsEveryRequestEscaped) {
    make_audit_log();
    diag({"cat", tree("app.log")});
    diag({"cat", "/etc/shadow"});
    diag({"cat", "x\x1b[2J"});
    const std::vector<json> lines = audit_lines();
    ASSERT_EQ(lines.size(), 3U);
    EXPECT_EQ(lines[0]["decision"], "allowed");
    EXPECT_EQ(lines[0]["bytes"], 28);
    EXPECT_TRUE(lines[0].contains("ino"));
    EXPECT_EQ(lines[1]["decision"], "refused");
    EXPECT_EQ(lines[1]["reason"], "'/etc/shadow' is denied");
    EXPECT_EQ(lines[2]["raw"], "cat x\\x1b[2J");
    EXPECT_EQ(read_file(s_root + "/log/diag.log").find('\x1b'), std::string::npos);
}

} // namespace
