// Integration tests for fleet-diag, as root: the file commands against real symlinks, hard
// links, bind mounts (in a private mount namespace via unshare -m), FIFOs and device nodes, with
// openat2 and with the fallback resolver forced by a seccomp filter; the tools through recording
// fakes; and the whole channel through a real sshd on 127.0.0.1 with ForceCommand, a throwaway
// diag user and key. Every refusal has a control that passes.
#include <arpa/inet.h>
#include <chrono>
#include <filesystem>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/accounts.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using fleet::test::Accounts;
using fleet::test::alive;
using fleet::test::lines_of;
using fleet::test::ProcessResult;
using fleet::test::read_file;
using fleet::test::RunOptions;
using fleet::test::write_file;
using nlohmann::json;

namespace {

const std::string k_diag_build = FLEET_DIAG_PATH;
const std::string k_no_openat2 = FL_NO_OPENAT2_PATH;

// A fake tool in the root-only fake/ directory: records argv and environment in record/
// (writable by the diag user too), then behaves as record/mode says.
constexpr const char* k_recorder = R"SH(#!/bin/sh
here=$(dirname "$(dirname "$0")")/record
printf '%s\n' "$0" "$@" > "$here/argv"
/usr/bin/env > "$here/env"
mode=$(cat "$here/mode" 2>/dev/null || echo ok)
case "$mode" in
ok) echo "$(basename "$0") ok" ;;
fail) echo "Unit nginx.service could not be found." >&2; exit 4 ;;
escape) printf 'Nov 22 host sshd: \033]0;owned\007\033[2J invalid \377 user\n' ;;
hang) trap '' TERM; echo $$ > "$here/hang.pid"; sleep 300 & echo $! > "$here/sleep.pid"; wait ;;
esac
)SH";

class Diag : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        s_root = fleet::test::make_root_scratch("diag-test");
        for (const char* dir :
             {"/bin", "/fake", "/record", "/log", "/tree/sub", "/secret-dir/inner", "/state"}) {
            fs::create_directories(s_root + dir);
        }
        chmod((s_root + "/record").c_str(), 01777);
        s_diag = s_root + "/bin/fleet-diag";
        fs::copy_file(k_diag_build, s_diag);
        chmod(s_diag.c_str(), 0755);
        for (const char* tool :
             {"systemctl", "journalctl", "df", "free", "uptime", "ps", "ss", "docker", "podman"}) {
            write_file(s_root + "/fake/" + tool, k_recorder, 0755);
        }
        write_file(tree("app.log"), "line 1\nline 2\nline 3\nline 4\n", 0644);
        write_file(tree("sub/nested.log"), "nested\n", 0644);
        write_file(s_root + "/secret.txt", "TOP-SECRET-FILE\n", 0644);
        write_file(s_root + "/secret-dir/inner/key", "TOP-SECRET-DIR\n", 0644);
        // The persisted spelling of a denied path exists; the visible one only as a mount.
        fs::create_directories(s_root + "/persist" + s_root + "/state");
        write_file(s_root + "/persist" + s_root + "/state/token", "TOP-SECRET-PERSISTED\n", 0644);
        s_policy = s_root + "/diag.toml";
        write_policy("");
        make_audit_log();
    }

    // What setup-diag makes: fleet-diag never creates its log.
    static void make_audit_log() { write_file(s_root + "/log/diag.log", "", 0620); }

    static void TearDownTestSuite() { fs::remove_all(s_root); }

    void SetUp() override {
        fs::remove(s_root + "/record/argv");
        fs::remove(s_root + "/record/mode");
    }

    static std::string tree(const std::string& name) { return s_root + "/tree/" + name; }

    static std::string policy_text(const std::string& extra) {
        std::string tools;
        for (const char* tool :
             {"systemctl", "journalctl", "df", "free", "uptime", "ps", "ss", "docker", "podman"}) {
            tools += std::string(tool) + " = \"" + s_root + "/fake/" + tool + "\"\n";
        }
        return "roots = [\"" + s_root + "/tree\", \"/etc\", \"/proc/loadavg\", \"/proc/1\"]\n" +
               "deny = [\"" + s_root + "/secret.txt\", \"" + s_root + "/secret-dir\", \"" + s_root +
               "/state/token\"]\npersist = [\"" + s_root + "/persist\"]\n" + "audit_log = \"" +
               s_root + "/log/diag.log\"\n" + extra + "[tools]\n" + tools;
    }

    static void write_policy(const std::string& extra) {
        write_file(s_policy, policy_text(extra), 0644);
    }

    static ProcessResult diag(const std::vector<std::string>& words, RunOptions options = {}) {
        std::vector<std::string> argv{s_diag, "--policy", s_policy, "--"};
        argv.insert(argv.end(), words.begin(), words.end());
        if (!options.env) {
            options.env = std::vector<std::string>{"PATH=/usr/bin:/bin"};
        }
        return fleet::test::run(argv, options);
    }

    // The same request inside a private mount namespace, after `setup` (shell words the test
    // wrote) has run there: unshare -m sh -c 'SETUP && exec "$@"' sh fleet-diag ...
    static ProcessResult diag_in_namespace(const std::string& setup,
                                           const std::vector<std::string>& words,
                                           bool without_openat2 = false) {
        std::vector<std::string> argv{
            "/usr/bin/unshare", "-m", "--propagation",           "private",
            "/bin/sh",          "-c", setup + " && exec \"$@\"", "sh"};
        if (without_openat2) {
            argv.push_back(k_no_openat2);
        }
        argv.insert(argv.end(), {s_diag, "--policy", s_policy, "--"});
        argv.insert(argv.end(), words.begin(), words.end());
        RunOptions options;
        options.env = std::vector<std::string>{"PATH=/usr/bin:/bin"};
        return fleet::test::run(argv, options);
    }

    static std::vector<json> audit_lines() {
        std::vector<json> lines;
        for (const std::string& line : lines_of(read_file(s_root + "/log/diag.log"))) {
            lines.push_back(json::parse(line));
        }
        return lines;
    }

    static std::vector<std::string> recorded_argv() {
        return lines_of(read_file(s_root + "/record/argv"));
    }

    static inline std::string s_root;
    static inline std::string s_diag;
    static inline std::string s_policy;
};

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
        std::vector<std::string> argv{k_no_openat2, s_diag, "--policy", s_policy, "--"};
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
    EXPECT_FALSE(alive(std::stoi(read_file(s_root + "/record/hang.pid"))));
    EXPECT_FALSE(alive(std::stoi(read_file(s_root + "/record/sleep.pid"))));
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

// The whole channel: a real sshd on 127.0.0.1, the host side set up by deploy/sshd/setup-diag
// (system user, root-owned home and authorized_keys with restrict,from=,command=, the audit log,
// the shipped Match block, sshd -t) for a throwaway diag user.
class DiagSsh : public Diag {
protected:
    static void SetUpTestSuite() {
        Diag::SetUpTestSuite();
        s_user = Accounts::unique_name("g");
        const std::string ssh = s_root + "/ssh";
        fs::create_directories(ssh + "/conf.d");
        fleet::test::run_ok(
            {"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ssh + "/host_key"});
        fleet::test::run_ok({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                             "diag-test", "-f", ssh + "/client_key"});
        s_port = free_port();
        // Like Debian's: the drop-in directory first, global settings after it (a Match block
        // in an included file must end with that file).
        write_file(ssh + "/sshd_config",
                   "Include " + ssh + "/conf.d/*.conf\nPort " + std::to_string(s_port) +
                       "\nListenAddress 127.0.0.1\nHostKey " + ssh +
                       "/host_key\nPidFile none\nUsePAM no\nPasswordAuthentication no\n"
                       "KbdInteractiveAuthentication no\nAllowUsers " +
                       s_user + "\n",
                   0644);
        write_file(ssh + "/known_hosts",
                   "[127.0.0.1]:" + std::to_string(s_port) + " " + read_file(ssh + "/host_key.pub"),
                   0644);
        fs::create_directories("/run/sshd");
        // The host side exactly as an operator sets it up: user, home, pinned key, audit log,
        // Match block, sshd -t.
        std::string key = read_file(ssh + "/client_key.pub");
        key.erase(key.find_last_not_of('\n') + 1);
        fs::remove(s_root + "/log/diag.log");
        s_setup =
            fleet::test::run({std::string(FLEET_SOURCE_DIR) + "/deploy/sshd/setup-diag", "--user",
                              s_user, "--key", key, "--from", "127.0.0.1", "--fleet-diag", s_diag,
                              "--sshd-config-dir", ssh + "/conf.d", "--sshd-config",
                              ssh + "/sshd_config", "--audit-log", s_root + "/log/diag.log"});
        if (!fs::exists("/etc/fleet-dispatch")) {
            fs::create_directory("/etc/fleet-dispatch");
            s_created_etc = true;
        }
        if (!fs::exists(k_fixed_policy)) {
            write_file(k_fixed_policy, policy_text(""), 0644);
            s_created_policy = true;
        }
        s_sshd = fleet::test::start({"/usr/sbin/sshd", "-D", "-e", "-f", ssh + "/sshd_config"});
        wait_for_port(s_port);
    }

    static void TearDownTestSuite() {
        kill(s_sshd.pid, SIGTERM);
        fleet::test::finish(s_sshd);
        if (s_created_policy) {
            fs::remove(k_fixed_policy);
        }
        if (s_created_etc) {
            fs::remove("/etc/fleet-dispatch");
        }
        fleet::test::run({"/usr/bin/chattr", "-a", s_root + "/log/diag.log"});
        fleet::test::run({"/usr/sbin/userdel", s_user});
        fs::remove_all("/var/lib/fleet-" + s_user);
        Diag::TearDownTestSuite();
    }

    void SetUp() override {
        Diag::SetUp();
        if (!s_created_policy) {
            GTEST_SKIP() << k_fixed_policy << " belongs to a real installation";
        }
    }

    static int free_port() {
        const int sock = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        EXPECT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
        EXPECT_EQ(getsockname(sock, reinterpret_cast<sockaddr*>(&address), &length), 0);
        close(sock);
        return ntohs(address.sin_port);
    }

    static void wait_for_port(int port) {
        for (int i = 0; i < 100; ++i) {
            const int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_port = htons(static_cast<uint16_t>(port));
            address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            const bool up =
                connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
            close(sock);
            if (up) {
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        FAIL() << "sshd did not listen on port " << port;
    }

    static ProcessResult ssh(const std::vector<std::string>& extra, const std::string& request) {
        const std::string dir = s_root + "/ssh";
        std::vector<std::string> argv{"/usr/bin/ssh",
                                      "-F",
                                      "/dev/null",
                                      "-p",
                                      std::to_string(s_port),
                                      "-i",
                                      dir + "/client_key",
                                      "-o",
                                      "IdentitiesOnly=yes",
                                      "-o",
                                      "BatchMode=yes",
                                      "-o",
                                      "StrictHostKeyChecking=yes",
                                      "-o",
                                      "UserKnownHostsFile=" + dir + "/known_hosts",
                                      "-o",
                                      "LogLevel=ERROR"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.emplace_back("--"); // ssh reads options after the destination otherwise
        argv.push_back(s_user + "@127.0.0.1");
        if (!request.empty()) {
            argv.push_back(request);
        }
        return fleet::test::run(argv);
    }

    static constexpr const char* k_fixed_policy = "/etc/fleet-dispatch/diag.toml";
    static inline std::string s_user;
    static inline ProcessResult s_setup;
    static inline int s_port = 0;
    static inline fleet::test::Started s_sshd;
    static inline bool s_created_etc = false;
    static inline bool s_created_policy = false;
};

TEST_F(DiagSsh, SetupDiagPreparesTheHostIdempotently) {
    ASSERT_EQ(s_setup.exit_code, 0) << s_setup.out << s_setup.err;
    const std::string home = "/var/lib/fleet-" + s_user;
    const std::string keys = read_file(home + "/.ssh/authorized_keys");
    EXPECT_EQ(keys.rfind("restrict,from=\"127.0.0.1\",command=\"" + s_diag + "\" ssh-ed25519 ", 0),
              0U)
        << keys;
    struct stat info {};
    ASSERT_EQ(stat((home + "/.ssh/authorized_keys").c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, 0U);
    ASSERT_EQ(stat((s_root + "/log/diag.log").c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0620U);
    EXPECT_EQ(info.st_gid, fleet::test::gid_of_group(s_user));
    const std::string passwd = fleet::test::run_ok({"/usr/bin/getent", "passwd", s_user});
    EXPECT_NE(passwd.find(":" + home + ":/bin/sh"), std::string::npos) << passwd;
    // Again: nothing to change, nothing written.
    std::string key = read_file(s_root + "/ssh/client_key.pub");
    key.erase(key.find_last_not_of('\n') + 1);
    const std::vector<std::string> argv{std::string(FLEET_SOURCE_DIR) + "/deploy/sshd/setup-diag",
                                        "--user",
                                        s_user,
                                        "--key",
                                        key,
                                        "--from",
                                        "127.0.0.1",
                                        "--fleet-diag",
                                        s_diag,
                                        "--sshd-config-dir",
                                        s_root + "/ssh/conf.d",
                                        "--sshd-config",
                                        s_root + "/ssh/sshd_config",
                                        "--audit-log",
                                        s_root + "/log/diag.log",
                                        "--dry-run"};
    const ProcessResult again = fleet::test::run(argv);
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(again.out.find("would write"), std::string::npos) << again.out;
    // Hostile values never reach a root-owned file.
    for (const auto& [option, value] : std::vector<std::pair<std::string, std::string>>{
             {"--user", "x';id;'"},
             {"--key", "ssh-ed25519 AAAA\" evil"},
             {"--key", "command=\"/bin/sh\" ssh-ed25519 AAAA"},
             {"--from", "*\",command=\"/bin/sh"},
             {"--fleet-diag", "/usr/bin/fleet diag"}}) {
        std::vector<std::string> bad = argv;
        bad.push_back(option);
        bad.push_back(value);
        EXPECT_EQ(fleet::test::run(bad).exit_code, 2) << option << " " << value;
    }
}

TEST_F(DiagSsh, ServesAllowedRequestsAsTheDiagUser) {
    ProcessResult result = ssh({}, "cat " + tree("app.log"));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "line 1\nline 2\nline 3\nline 4\n");
    result = ssh({}, "journalctl -u nginx --since '2026-11-01 10:00'");
    EXPECT_EQ(result.exit_code, 0) << result.err;
    ASSERT_FALSE(recorded_argv().empty());
    EXPECT_EQ(recorded_argv().back(), "--since=2026-11-01 10:00");
    ASSERT_FALSE(audit_lines().empty());
    const json line = audit_lines().back();
    EXPECT_EQ(line["uid"], fleet::test::uid_of(s_user));
    EXPECT_EQ(line["ssh_connection"].get<std::string>().rfind("127.0.0.1 ", 0), 0U);
    const std::string fingerprint =
        fleet::test::run_ok({"/usr/bin/ssh-keygen", "-l", "-f", s_root + "/ssh/client_key.pub"});
    EXPECT_NE(fingerprint.find(line["key"].get<std::string>()), std::string::npos)
        << fingerprint << " vs " << line["key"];
    EXPECT_EQ(line["key"].get<std::string>().rfind("SHA256:", 0), 0U);
}

TEST_F(DiagSsh, RefusesOverSshWhatItRefusesLocally) {
    for (const char* request : {"cat /etc/shadow", "cat /etc/hostname; id", "cat /etc/hostname\nid",
                                "sh -c id", "journalctl -D /tmp", "cat $(echo /etc/shadow)"}) {
        const ProcessResult result = ssh({}, request);
        EXPECT_EQ(result.exit_code, 125) << request << result.err;
        EXPECT_EQ(result.out, "") << request;
    }
    EXPECT_EQ(ssh({}, "cat /etc/hostname").exit_code, 0); // control
    // --policy cannot be smuggled: the whole string is the request, and it is not one.
    EXPECT_EQ(ssh({}, "--policy /tmp/x.toml -- df").exit_code, 125);
}

TEST_F(DiagSsh, AnEmptyRequestListsCommandsAndATerminalIsNeverGranted) {
    ProcessResult result = ssh({"-T"}, "");
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("Allowed requests"), std::string::npos);
    const size_t audited = audit_lines().size();
    result = ssh({"-tt"}, "cat /etc/hostname"); // PermitTTY no and restrict: no terminal
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("PTY allocation request failed"), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(audit_lines().size(), audited);
    // Port forwarding is off for the key and the user.
    result = ssh({"-N", "-o", "ExitOnForwardFailure=yes", "-L", "127.0.0.1:0:127.0.0.1:22"}, "");
    EXPECT_NE(result.exit_code, 0);
}

} // namespace
