// Integration tests for fleet-dispatch-setup (deploy/install), as root, on this machine: a
// throwaway user with the six old scripts in its claude-executor directory is migrated, the old
// SSM command line then runs the unified agents through the symlink, a second run changes
// nothing, and --uninstall puts the old scripts back. /etc/fleet-dispatch is used only when no
// installation owns it (otherwise skipped); the programs come from a root-owned copy of the
// build, the SSM agent unit from a scratch unit directory.
#include <algorithm>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/accounts.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using fleet::test::Accounts;
using fleet::test::ProcessResult;
using fleet::test::read_file;
using fleet::test::RunOptions;
using fleet::test::write_file;

namespace {

const std::string k_install = std::string(FLEET_SOURCE_DIR) + "/deploy/install";
const char* const k_legacy_names[] = {"dispatch.sh",       "dispatch-aider.sh",
                                      "dispatch-codex.sh", "dispatch-gemini.sh",
                                      "dispatch-grok.sh",  "dispatch-unified.sh"};

class Install : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        s_owned = !fs::exists("/etc/fleet-dispatch");
        if (!s_owned) {
            return;
        }
        s_root = fleet::test::make_root_scratch("install-test");
        fs::create_directories(s_root + "/bin");
        for (const auto& [from, to] :
             {std::pair{DISPATCH_PATH, "dispatch"}, std::pair{FLEET_HELPER_PATH, "fleet-helper"},
              std::pair{FLEET_LAUNCH_PATH, "fleet-launch"},
              std::pair{FLEET_ADMIN_PATH, "fleet-admin"}}) {
            fs::copy_file(from, s_root + "/bin/" + to);
        }
        fleet::test::copy_executables(FAKES_DIR, s_root + "/fakes");
        fs::create_directories(s_root + "/units");
        write_file(s_root + "/units/amazon-ssm-agent.service",
                   "[Service]\nExecStart=/usr/bin/sleep infinity\nRestart=always\n"
                   "RestartSec=90\n",
                   0644);
        s_accounts = new Accounts();
        s_user = Accounts::unique_name("i");
        s_accounts->add_user(s_user);
        s_home = "/home/" + s_user;
        s_legacy = s_home + "/claude-executor";
        // The old world: six scripts the user owns, in a directory the user owns.
        const std::string as_user = "/usr/sbin/runuser";
        fleet::test::run_ok({as_user, "-u", s_user, "--", "mkdir", "-p", s_legacy});
        for (const char* name : k_legacy_names) {
            write_file(s_legacy + "/" + name, std::string("#!/bin/bash\n# old ") + name + "\n",
                       0755);
            ASSERT_EQ(chown((s_legacy + "/" + name).c_str(), fleet::test::uid_of(s_user),
                            fleet::test::gid_of_group(s_user)),
                      0);
        }
    }

    static void TearDownTestSuite() {
        if (!s_owned) {
            return;
        }
        fs::remove_all("/etc/fleet-dispatch");
        fs::remove("/etc/sudoers.d/fleet-helper-" + s_user);
        delete s_accounts;
        fs::remove_all(s_root);
    }

    void SetUp() override {
        if (!s_owned) {
            GTEST_SKIP() << "/etc/fleet-dispatch belongs to a real installation";
        }
    }

    static ProcessResult setup(std::vector<std::string> extra) {
        std::vector<std::string> argv{k_install,       "--user",           s_user,
                                      "--legacy-dir",  s_legacy,           "--bindir",
                                      s_root + "/bin", "--unit-path",      s_root + "/units",
                                      "--systemd-dir", s_root + "/systemd"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        RunOptions options;
        options.env = std::vector<std::string>{
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
        return fleet::test::run(argv, options);
    }

    static inline bool s_owned = false;
    static inline std::string s_root, s_user, s_home, s_legacy;
    static inline Accounts* s_accounts = nullptr;
};

TEST_F(Install, MigratesTheOldScriptsAndTheOldCommandLineWorks) {
    const ProcessResult dry = setup({"--with-helper", "--dry-run"});
    ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
    EXPECT_NE(dry.out.find("would link " + s_legacy + "/dispatch-unified.sh"), std::string::npos)
        << dry.out;
    EXPECT_FALSE(fs::exists("/etc/fleet-dispatch")); // a dry run changes nothing
    EXPECT_FALSE(fs::is_symlink(s_legacy + "/dispatch.sh"));

    const ProcessResult result = setup({"--with-helper"});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_NE(result.out.find("dispatch doctor:"), std::string::npos);

    for (const char* name : k_legacy_names) {
        const std::string path = s_legacy + "/" + name;
        EXPECT_TRUE(fs::is_symlink(path)) << path;
        EXPECT_EQ(fs::read_symlink(path), s_root + "/bin/dispatch");
        EXPECT_EQ(read_file(path + ".orig"), std::string("#!/bin/bash\n# old ") + name + "\n");
    }
    struct stat info {};
    ASSERT_EQ(stat(s_legacy.c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, 0U); // root runs what is in it: the user cannot swap the links
    EXPECT_EQ(info.st_mode & 07777, 0755U);
    EXPECT_NE(fleet::test::run({"lsattr", "-d", s_legacy}).out.find("-i-"), std::string::npos);
    // The user in setup's own drop-in; config.toml (the package's conffile) is never written.
    EXPECT_NE(read_file("/etc/fleet-dispatch/config.d/50-setup.toml")
                  .find("\nuser = \"" + s_user + "\"\n"),
              std::string::npos);
    EXPECT_FALSE(fs::exists("/etc/fleet-dispatch/config.toml"));
    ASSERT_EQ(stat("/etc/fleet-dispatch/secrets", &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0700U);
    const std::string runs = s_home + "/.local/state/fleet-dispatch/runs";
    ASSERT_EQ(stat(runs.c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, fleet::test::uid_of(s_user));
    EXPECT_EQ(read_file(s_root + "/systemd/amazon-ssm-agent.service.d/fleet-dispatch.conf"),
              read_file(std::string(FLEET_SOURCE_DIR) + "/deploy/systemd/ssm-agent-restart.conf"));
    EXPECT_TRUE(fs::exists("/etc/fleet-dispatch/helper.toml"));
    // The confined agents' road to the helper: its socket units (started by systemd where it
    // runs; here it does not, and setup says how to start it).
    EXPECT_EQ(read_file(s_root + "/systemd/fleet-helper.socket"),
              read_file(std::string(FLEET_SOURCE_DIR) + "/deploy/systemd/fleet-helper.socket"));
    EXPECT_NE(read_file(s_root + "/systemd/fleet-helper@.service")
                  .find("\nExecStart=" + s_root + "/bin/fleet-helper --serve-socket\n"),
              std::string::npos); // the helper this setup installed
    EXPECT_NE(read_file("/etc/sudoers.d/fleet-helper-" + s_user)
                  .find(s_user + " ALL=(root) NOPASSWD: " + s_root + "/bin/fleet-helper"),
              std::string::npos);

    // The agents of this test are the fakes; then the old SSM command line, as SSM runs it.
    write_file("/etc/fleet-dispatch/config.d/60-test.toml",
               "path = [\"" + s_root + "/fakes\"]\nunified = [\"claude\", \"codex\"]\n", 0644);
    RunOptions ssm;
    ssm.env = std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin",
                                       "SSM_COMMAND_ID=0b1c-test"};
    ssm.cwd = s_root; // not the user's
    const ProcessResult run = fleet::test::run(
        {"/bin/sh", "-c",
         s_legacy + "/dispatch-unified.sh blueprint \"Generate a simple test blueprint with 3 "
                    "tasks\""},
        ssm);
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
    const std::string id = fleet::test::run_id_of(run.out);
    ASSERT_FALSE(id.empty()) << run.out;
    const std::string run_dir = runs + "/" + id;
    ASSERT_EQ(stat((run_dir + "/status.json").c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, fleet::test::uid_of(s_user));
    EXPECT_EQ(nlohmann::json::parse(read_file(run_dir + "/status.json"))["state"], "succeeded")
        << read_file(run_dir + "/status.json");
    EXPECT_TRUE(fs::exists(run_dir + "/work-claude/prompt.got"));
    EXPECT_TRUE(fs::exists(run_dir + "/work-codex/prompt.got"));

    // --with-diag hands the key to setup-diag (shown here, not applied: diag_test applies it).
    const ProcessResult diag = setup({"--with-diag", "--diag-key",
                                      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnly x@y",
                                      "--diag-from", "10.0.0.0/8", "--dry-run"});
    EXPECT_EQ(diag.exit_code, 0) << diag.out << diag.err;
    EXPECT_NE(
        diag.out.find("restrict,from=\"10.0.0.0/8\",command=\"" + s_root +
                      "/bin/fleet-diag\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnly"),
        std::string::npos)
        << diag.out;
    EXPECT_FALSE(fs::exists("/etc/fleet-dispatch/diag.toml"));

    // Again: nothing to change.
    const ProcessResult again = setup({"--with-helper", "--dry-run"});
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.out.find("nothing to change"), std::string::npos) << again.out;
    EXPECT_EQ(again.out.find("would "), std::string::npos) << again.out;

    // And back: the old scripts return; configuration and runs stay.
    const ProcessResult undo = setup({"--uninstall"});
    EXPECT_EQ(undo.exit_code, 0) << undo.out << undo.err;
    for (const char* name : k_legacy_names) {
        const std::string path = s_legacy + "/" + name;
        EXPECT_FALSE(fs::is_symlink(path)) << path;
        EXPECT_EQ(read_file(path), std::string("#!/bin/bash\n# old ") + name + "\n");
        EXPECT_FALSE(fs::exists(path + ".orig"));
    }
    EXPECT_FALSE(fs::exists(s_root + "/systemd/amazon-ssm-agent.service.d/fleet-dispatch.conf"));
    EXPECT_FALSE(fs::exists("/etc/sudoers.d/fleet-helper-" + s_user));
    EXPECT_FALSE(fs::exists(s_root + "/systemd/fleet-helper.socket"));
    EXPECT_FALSE(fs::exists(s_root + "/systemd/fleet-helper@.service"));
    EXPECT_TRUE(fs::exists("/etc/fleet-dispatch/config.d/50-setup.toml"));
    EXPECT_TRUE(fs::exists(run_dir + "/status.json"));
}

// What the user could do to the legacy directory in its home before: rename it away and put one
// of its own, with its own dispatch-unified.sh, where SSM's root looks. Once set up, it can do
// none of that; and a directory the user replaced by a symlink is refused, not followed.
TEST_F(Install, TheLegacyDirectoryCannotBeSwappedByTheUser) {
    const auto as_user = [&](const std::string& command) {
        return fleet::test::run({"/usr/sbin/runuser", "-u", s_user, "--", "/bin/sh", "-c", command})
            .exit_code;
    };
    // Control: the old world, where the user can swap it.
    ASSERT_EQ(
        as_user("mv " + s_legacy + " " + s_legacy + ".x && mv " + s_legacy + ".x " + s_legacy), 0);
    const ProcessResult result = setup({});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_NE(as_user("mv " + s_legacy + " " + s_home + "/gone"), 0) << "renamed away";
    EXPECT_NE(as_user("rm -f " + s_legacy + "/dispatch-unified.sh"), 0) << "removed";
    EXPECT_NE(as_user("ln -sfn /tmp/evil " + s_legacy + "/dispatch-unified.sh"), 0);
    EXPECT_NE(as_user("touch " + s_legacy + "/new"), 0);
    EXPECT_EQ(fs::read_symlink(s_legacy + "/dispatch-unified.sh"), s_root + "/bin/dispatch");
    EXPECT_TRUE(fs::is_directory(s_legacy));

    // Given back by --uninstall, then replaced by a symlink to a root-only directory: a re-run
    // refuses it, and changes nothing there.
    ASSERT_EQ(setup({"--uninstall"}).exit_code, 0);
    const std::string private_dir = s_root + "/private";
    fs::create_directory(private_dir);
    chmod(private_dir.c_str(), 0700);
    ASSERT_EQ(as_user("mv " + s_legacy + " " + s_legacy + ".real && ln -s " + private_dir + " " +
                      s_legacy),
              0);
    const ProcessResult swapped = setup({});
    EXPECT_EQ(swapped.exit_code, 1) << swapped.out << swapped.err;
    EXPECT_NE(swapped.err.find("is a symlink or not a directory"), std::string::npos)
        << swapped.err;
    struct stat info {};
    ASSERT_EQ(stat(private_dir.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0700U) << "setup changed the directory behind the link";
    EXPECT_FALSE(fs::exists(private_dir + "/dispatch-unified.sh"));
    fs::remove(s_legacy);
    fs::rename(s_legacy + ".real", s_legacy);
    fs::remove_all(private_dir);

    // Deeper in the home: the user could swap a directory above it, so that is refused too.
    ASSERT_EQ(as_user("mkdir -p " + s_home + "/tools/claude-executor"), 0);
    const std::string deeper = s_home + "/tools/claude-executor";
    std::vector<std::string> args{
        k_install,          "--user",        s_user,        "--legacy-dir",    deeper,
        "--bindir",         s_root + "/bin", "--unit-path", s_root + "/units", "--systemd-dir",
        s_root + "/systemd"};
    const ProcessResult nested = fleet::test::run(args);
    EXPECT_EQ(nested.exit_code, 1) << nested.out << nested.err;
    EXPECT_NE(nested.err.find(s_home + " must be root's"), std::string::npos) << nested.err;
    EXPECT_FALSE(fs::exists(deeper + "/dispatch-unified.sh"));
    fs::remove_all(s_home + "/tools");
    fs::remove_all("/etc/fleet-dispatch");
}

// Where the filesystem has no immutable flag (ramfs here, in a mount namespace of its own), the
// old command lines are not kept: nothing is linked, the error names what to use instead.
TEST_F(Install, WithoutAnImmutableFlagTheOldNamesAreRefused) {
    const std::string mount_point = s_root + "/ramfs";
    fs::create_directory(mount_point);
    const std::string legacy = mount_point + "/claude-executor";
    const std::string script =
        "mount -t ramfs none \"$1\" && mkdir \"$1/claude-executor\" && echo old > "
        "\"$1/claude-executor/dispatch.sh\" && \"$2\" legacy-dir --dir \"$1/claude-executor\" "
        "--target /usr/bin/dispatch; echo \"exit=$?\"; ls -a \"$1/claude-executor\"";
    const ProcessResult result =
        fleet::test::run({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                          script, "sh", mount_point, s_root + "/bin/fleet-admin"});
    EXPECT_NE(result.out.find("exit=1"), std::string::npos) << result.out << result.err;
    EXPECT_NE(result.err.find("cannot be made immutable"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("/usr/bin/dispatch-unified TASK PROMPT"), std::string::npos)
        << result.err;
    EXPECT_EQ(result.out.find("dispatch-unified.sh"), std::string::npos) << result.out;
    fs::remove(mount_point);
}

// --with-timers: the guardian's and the pruning's units naming this setup's dispatch, verified
// by systemd, enabled only where systemd runs (not here: it says so); where the package's unit
// already names it (a copy in the unit path plays the package's), no copy hides it. --uninstall
// removes the copies and leaves the package's.
TEST_F(Install, TimersNameItsDispatchAndGoAgain) {
    if (fs::exists("/run/systemd/system")) {
        GTEST_SKIP() << "systemd runs here: setup would enable the timers on this host";
    }
    const std::string units = std::string(FLEET_SOURCE_DIR) + "/deploy/systemd/";
    const std::string systemd = s_root + "/systemd/";
    const ProcessResult dry = setup({"--with-timers", "--dry-run"});
    ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
    EXPECT_NE(dry.out.find("would install " + systemd + "fleet-dispatch-doctor.timer"),
              std::string::npos)
        << dry.out;
    EXPECT_FALSE(fs::exists(systemd + "fleet-dispatch-doctor.timer"));

    const ProcessResult result = setup({"--with-timers"});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_NE(result.out.find("no systemd here: no timer runs"), std::string::npos) << result.out;
    const std::string doctor = read_file(systemd + "fleet-dispatch-doctor.service");
    EXPECT_NE(doctor.find("\nExecStart=" + s_root + "/bin/dispatch doctor --json\n"),
              std::string::npos)
        << doctor;
    EXPECT_NE(read_file(systemd + "fleet-dispatch-prune.service")
                  .find("\nExecStart=" + s_root + "/bin/dispatch prune\n"),
              std::string::npos);
    for (const char* timer : {"fleet-dispatch-doctor.timer", "fleet-dispatch-prune.timer"}) {
        EXPECT_EQ(read_file(systemd + timer), read_file(units + timer)) << timer;
    }
    if (fs::exists("/usr/bin/systemd-analyze")) { // what setup installed, as systemd reads it
        const ProcessResult verified = fleet::test::run(
            {"/usr/bin/systemd-analyze", "verify", "--man=no",
             systemd + "fleet-dispatch-doctor.service", systemd + "fleet-dispatch-doctor.timer",
             systemd + "fleet-dispatch-prune.service", systemd + "fleet-dispatch-prune.timer"});
        EXPECT_EQ(verified.exit_code, 0) << verified.err;
        EXPECT_EQ(verified.out + verified.err, "");
    }
    const ProcessResult again = setup({"--with-timers", "--dry-run"});
    EXPECT_EQ(again.out.find("would "), std::string::npos) << again.out;

    // The package's unit names this dispatch: setup's copy would only hide its upgrades.
    write_file(s_root + "/units/fleet-dispatch-doctor.service", doctor, 0644);
    const ProcessResult packaged = setup({"--with-timers"});
    EXPECT_EQ(packaged.exit_code, 0) << packaged.out << packaged.err;
    EXPECT_NE(
        packaged.out.find("remove " + systemd + "fleet-dispatch-doctor.service (the package's"),
        std::string::npos)
        << packaged.out;
    EXPECT_FALSE(fs::exists(systemd + "fleet-dispatch-doctor.service"));
    EXPECT_TRUE(fs::exists(systemd + "fleet-dispatch-prune.service")); // control: no package's

    const ProcessResult undo = setup({"--uninstall"});
    EXPECT_EQ(undo.exit_code, 0) << undo.out << undo.err;
    for (const char* unit : {"fleet-dispatch-doctor.timer", "fleet-dispatch-prune.service",
                             "fleet-dispatch-prune.timer"}) {
        EXPECT_FALSE(fs::exists(systemd + unit)) << unit;
    }
    EXPECT_TRUE(fs::exists(s_root + "/units/fleet-dispatch-doctor.service")); // the package's
    fs::remove(s_root + "/units/fleet-dispatch-doctor.service");
}

TEST_F(Install, RefusesBadInputBeforeChangingAnything) {
    for (const std::vector<std::string>& extra :
         std::vector<std::vector<std::string>>{{"--user", "root"},
                                               {"--user", "no-such-user-here"},
                                               {"--user", "x;id"},
                                               {"--legacy-dir", "relative/dir"},
                                               {"--legacy-dir", "/home/x/../../etc"},
                                               {"--bindir", "/nonexistent"},
                                               {"--with-diag"},
                                               {"--expect-version", "0.2;id"},
                                               {"--bogus"}}) {
        const ProcessResult result = setup(extra);
        EXPECT_EQ(result.exit_code, 2) << extra[0] << result.out;
        EXPECT_EQ(result.out, "") << extra[0];
    }
    // Not the package the caller (the role) installed: one line, nothing done. package_test
    // has the control, with the package installed at the version asked.
    const ProcessResult result = setup({"--expect-version", "0.2.0"});
    EXPECT_EQ(result.exit_code, 2) << result.out;
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_NE(result.err.find("0.2.0 was asked for): install it first; nothing done"),
              std::string::npos)
        << result.err;
}

} // namespace
