// The Debian package, end to end, as root on this machine: lintian finds no error; apt installs
// the .deb (starting no service); fleet-dispatch-setup migrates a throwaway user's old scripts;
// the old SSM command line and the SSM document (run by tests/ssm/ssm-agent-sim) then work with
// the installed programs; purging removes what the package installed and nothing the user made.
// Skipped when fleet-dispatch is already installed here or /etc/fleet-dispatch is taken. The
// .deb comes from the package_build fixture (cpack in the build directory).
#include <algorithm>
#include <filesystem>
#include <regex>
#include <string>
#include <sys/stat.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/package_deb.hpp"
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

const char* const k_legacy_names[] = {"dispatch.sh",       "dispatch-aider.sh",
                                      "dispatch-codex.sh", "dispatch-gemini.sh",
                                      "dispatch-grok.sh",  "dispatch-unified.sh"};

RunOptions system_env() {
    RunOptions options;
    options.env = std::vector<std::string>{
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "DEBIAN_FRONTEND=noninteractive"};
    return options;
}

bool installed() {
    return fleet::test::run({"/usr/bin/dpkg-query", "-W", "-f=${Status}", "fleet-dispatch"})
               .out.find("installed") != std::string::npos;
}

TEST(Package, LintianPedanticFindsOnlyTheSecretsDirectoryAndTheContentIsRight) {
    const std::string deb = deb_path();
    ASSERT_FALSE(deb.empty()) << "no .deb in " << k_package_dir;
    // Errors, warnings and pedantic tags; the one left is intended: secrets/ is 0700.
    const ProcessResult lintian =
        fleet::test::run({"/usr/bin/lintian", "--pedantic", deb}, system_env());
    EXPECT_EQ(lintian.out, "W: fleet-dispatch: non-standard-dir-perm 0700 != 0755 "
                           "[etc/fleet-dispatch/secrets/]\n");
    const std::string contents = fleet::test::run_ok({"/usr/bin/dpkg-deb", "-c", deb});
    for (const char* path :
         {"./usr/bin/dispatch", "./usr/bin/fleet-launch", "./usr/sbin/fleet-helper",
          "./usr/lib/fleet-dispatch/fleet-diag", "./usr/bin/dispatch-unified -> dispatch",
          "./usr/sbin/fleet-dispatch-setup -> ../share/fleet-dispatch/install",
          "./etc/fleet-dispatch/config.toml", "./etc/fleet-dispatch/config.d/",
          "./etc/logrotate.d/fleet-dispatch", "./var/lib/fleet-dispatch/",
          "./var/log/fleet-dispatch/", "./usr/share/fleet-dispatch/etc/helper.toml",
          "./usr/share/fleet-dispatch/VERSION", "./usr/share/man/man1/dispatch.1.gz",
          "./usr/share/man/man8/fleet-helper.8.gz",
          "./usr/share/fleet-dispatch/ssm/FleetDispatch.yaml",
          "./usr/share/fleet-dispatch/systemd/ssm-agent-restart.conf",
          "./usr/share/fleet-dispatch/sshd/fleet-diag.conf",
          "./usr/share/doc/fleet-dispatch/copyright"}) {
        EXPECT_NE(contents.find(path), std::string::npos) << path;
    }
    // The timers, as real units (enabled by set-up, never by the package: below), and as the
    // source of set-up's copies for another --bindir.
    for (const char* unit : {"doctor.service", "doctor.timer", "prune.service", "prune.timer"}) {
        for (const char* dir :
             {"./usr/lib/systemd/system/", "./usr/share/fleet-dispatch/systemd/"}) {
            EXPECT_NE(contents.find(dir + std::string("fleet-dispatch-") + unit), std::string::npos)
                << dir << unit;
        }
    }
    EXPECT_NE(contents.find("drwx------ root/root         0"), std::string::npos)
        << "secrets directory 0700";
    const std::string conffiles = fleet::test::run_ok(
        {"/bin/sh", "-c", "dpkg-deb --ctrl-tarfile \"$0\" | tar -xOf - ./conffiles", deb});
    // The policies are set-up's to write: only the settings and logrotate's file are conffiles.
    EXPECT_EQ(conffiles, "/etc/fleet-dispatch/config.toml\n/etc/logrotate.d/fleet-dispatch\n");
    EXPECT_EQ(contents.find("./etc/fleet-dispatch/helper.toml"), std::string::npos);
    // The timers are shipped, never enabled: nothing in /etc/systemd (setup or the role does it).
    EXPECT_EQ(contents.find("./etc/systemd/"), std::string::npos);
    const std::string control = fleet::test::run_ok({"/usr/bin/dpkg-deb", "-f", deb});
    EXPECT_NE(control.find("\nVersion: " + std::string(PACKAGE_VERSION) + "\n"), std::string::npos)
        << control;
    EXPECT_NE(control.find("\nRecommends: sudo, git, logrotate\n"), std::string::npos) << control;
    EXPECT_NE(control.find("\nSuggests: openssh-server,"), std::string::npos) << control;
}

// Each man page has the standard sections, in order, and none of docs/' developer sections.
TEST(Package, ManPagesHaveTheStandardSectionsOnly) {
    const std::string deb = deb_path();
    ASSERT_FALSE(deb.empty()) << "no .deb in " << k_package_dir;
    for (const char* page :
         {"man1/dispatch.1.gz", "man1/fleet-launch.1.gz", "man8/fleet-helper.8.gz",
          "man8/fleet-diag.8.gz", "man8/fleet-dispatch-setup.8.gz", "man8/fleet-admin.8.gz"}) {
        const std::string sections = fleet::test::run_ok(
            {"/bin/sh", "-c",
             "dpkg-deb --fsys-tarfile \"$0\" | tar -xOf - \"./usr/share/man/$1\" | zcat | "
             "sed -n 's/^\\.SH //p'",
             deb, page});
        EXPECT_EQ(sections, "NAME\nSYNOPSIS\nDESCRIPTION\nOPTIONS\nEXIT STATUS\nFILES\nSEE ALSO\n")
            << page;
    }
}

class PackageOnHost : public ::testing::Test {
protected:
    void SetUp() override {
        if (installed() || fs::exists("/etc/fleet-dispatch") || fs::exists("/usr/bin/dispatch") ||
            fs::exists("/var/lib/fleet-dispatch") || fs::exists("/var/log/fleet-dispatch")) {
            GTEST_SKIP() << "fleet-dispatch is installed on this host already";
        }
        m_root = fleet::test::make_root_scratch("package-test");
        fleet::test::copy_executables(FAKES_DIR, m_root + "/fakes");
        m_user = Accounts::unique_name("k");
        m_accounts.add_user(m_user);
        m_legacy = "/home/" + m_user + "/claude-executor";
        fleet::test::run_ok({"/usr/sbin/runuser", "-u", m_user, "--", "mkdir", "-p", m_legacy});
        for (const char* name : k_legacy_names) {
            write_file(m_legacy + "/" + name, "#!/bin/bash\n# old\n", 0755);
        }
        m_ran = true;
    }

    void TearDown() override {
        if (!m_ran) {
            return;
        }
        fleet::test::run({"/usr/bin/apt-get", "purge", "-y", "-qq", "fleet-dispatch"},
                         system_env());
        for (const char* path :
             {"/etc/fleet-dispatch", "/var/lib/fleet-dispatch", "/var/log/fleet-dispatch"}) {
            fs::remove_all(path);
        }
        fs::remove("/etc/sudoers.d/fleet-helper-" + m_user);
        if (const std::string deb = deb_path(); !deb.empty()) {
            fs::remove("/var/cache/apt/archives/" + fs::path(deb).filename().string());
        }
        fs::remove_all(m_root);
    }

    // The old SSM command line, as SSM runs it: sh, SSM's PATH, a cwd that is not the user's.
    ProcessResult old_command_line() const {
        RunOptions ssm;
        ssm.env =
            std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"};
        ssm.cwd = m_root;
        return fleet::test::run({"/bin/sh", "-c",
                                 m_legacy + "/dispatch-unified.sh blueprint \"Generate a simple "
                                            "test blueprint with 3 tasks\""},
                                ssm);
    }

    Accounts m_accounts;
    bool m_ran = false;
    std::string m_root, m_user, m_legacy;
};

TEST_F(PackageOnHost, FromAptInstallToTheOldCommandLineAndBack) {
    const ProcessResult apt = fleet::test::run(
        {"/usr/bin/apt-get", "install", "-y", "-qq", "--no-install-recommends", deb_path()},
        system_env());
    ASSERT_EQ(apt.exit_code, 0) << apt.out << apt.err;
    ASSERT_TRUE(installed());
    struct stat info {};
    ASSERT_EQ(stat("/etc/fleet-dispatch/secrets", &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0700U);
    EXPECT_EQ(fleet::test::run({"/usr/bin/man", "-w", "dispatch"}, system_env()).exit_code, 0);

    const ProcessResult setup =
        fleet::test::run({"/usr/sbin/fleet-dispatch-setup", "--user", m_user, "--legacy-dir",
                          m_legacy, "--unit-path", m_root},
                         system_env());
    ASSERT_EQ(setup.exit_code, 0) << setup.out << setup.err;
    EXPECT_EQ(fs::read_symlink(m_legacy + "/dispatch-unified.sh"), "/usr/bin/dispatch");
    // What the role asks: this version (the control) goes on; another is named and refused.
    const std::string version = PACKAGE_VERSION;
    EXPECT_EQ(fleet::test::run({"/usr/sbin/fleet-dispatch-setup", "--user", m_user,
                                "--expect-version", version, "--dry-run"},
                               system_env())
                  .exit_code,
              0);
    const ProcessResult other = fleet::test::run(
        {"/usr/sbin/fleet-dispatch-setup", "--user", m_user, "--expect-version", "99.0.0"},
        system_env());
    EXPECT_EQ(other.exit_code, 2);
    EXPECT_EQ(other.err, "fleet-dispatch-setup: fleet-dispatch " + version +
                             " is installed here, not 99.0.0 as asked: install that version "
                             "first; nothing done\n");
    // The conffile as shipped; the user in setup's drop-in.
    EXPECT_EQ(read_file("/etc/fleet-dispatch/config.toml"),
              read_file(std::string(FLEET_SOURCE_DIR) + "/deploy/etc/config.toml"));
    EXPECT_NE(read_file("/etc/fleet-dispatch/config.d/50-setup.toml")
                  .find("\nuser = \"" + m_user + "\"\n"),
              std::string::npos);
    write_file("/etc/fleet-dispatch/config.d/60-test.toml",
               "path = [\"" + m_root + "/fakes\"]\nunified = [\"claude\", \"codex\"]\n", 0644);
    EXPECT_EQ(fleet::test::run_ok({"/usr/sbin/fleet-dispatch-setup", "--version"}),
              "fleet-dispatch-setup " + read_file("/usr/share/fleet-dispatch/VERSION"));

    const ProcessResult old = old_command_line();
    EXPECT_EQ(old.exit_code, 0) << old.out << old.err;
    const std::string runs = "/home/" + m_user + "/.local/state/fleet-dispatch/runs/";
    const std::string id = fleet::test::run_id_of(old.out);
    ASSERT_FALSE(id.empty()) << old.out;
    EXPECT_EQ(nlohmann::json::parse(read_file(runs + id + "/status.json"))["state"], "succeeded");

    // The SSM document as installed, run as the SSM agent would.
    RunOptions none;
    none.env = std::vector<std::string>{};
    const ProcessResult document =
        fleet::test::run({std::string(FLEET_SOURCE_DIR) + "/tests/ssm/ssm-agent-sim",
                          "/usr/share/fleet-dispatch/ssm/FleetDispatch.yaml", "--cwd", m_root,
                          "--work", m_root + "/orchestration", "--param", "prompt=it's \"$(id)\"\n",
                          "--param", "agents=unified"},
                         none);
    EXPECT_EQ(document.exit_code, 0) << document.out << document.err;
    const std::string document_id = fleet::test::run_id_of(document.out);
    ASSERT_FALSE(document_id.empty()) << document.out;
    EXPECT_EQ(read_file(runs + document_id + "/work-codex/prompt.got"), "it's \"$(id)\"\n");

    // Back out: `apt remove` gives the old scripts back, purge takes the rest, the runs stay.
    // Setup listed the directory; a listed one that is gone is passed over, and one that
    // fleet-admin refuses (a symlink to a directory) stops the removal until it is unlisted.
    const std::string record = "/var/lib/fleet-dispatch/legacy-dirs";
    EXPECT_EQ(read_file(record), m_legacy + "\n");
    const std::string refused = m_root + "/legacy-link";
    fs::create_directory_symlink(m_legacy, refused);
    write_file(record, m_legacy + "\n" + m_root + "/gone\n" + refused + "\n", 0644);
    const std::vector<std::string> remove{"/usr/bin/apt-get", "remove", "-y", "-qq",
                                          "fleet-dispatch"};
    ProcessResult removed = fleet::test::run(remove, system_env());
    EXPECT_NE(removed.exit_code, 0) << removed.out;
    // apt gives dpkg a terminal of its own: what the maintainer scripts print is apt's stdout.
    EXPECT_NE(
        removed.out.find("not removed: the old scripts could not be given back in " + refused),
        std::string::npos)
        << removed.out;
    EXPECT_TRUE(installed());
    EXPECT_EQ(read_file(record), refused + "\n");
    EXPECT_EQ(read_file(m_legacy + "/dispatch-unified.sh"), "#!/bin/bash\n# old\n");
    write_file(record, "", 0644); // the control: unlisted, the removal goes through
    removed = fleet::test::run(remove, system_env());
    EXPECT_EQ(removed.exit_code, 0) << removed.out << removed.err;
    EXPECT_FALSE(installed());
    EXPECT_FALSE(fs::exists(record));
    for (const char* name : k_legacy_names) {
        EXPECT_EQ(read_file(m_legacy + "/" + name), "#!/bin/bash\n# old\n") << name;
        EXPECT_FALSE(fs::exists(m_legacy + "/" + name + ".orig")) << name;
    }
    struct stat legacy {};
    ASSERT_EQ(stat(m_legacy.c_str(), &legacy), 0);
    EXPECT_EQ(legacy.st_uid, fleet::test::uid_of(m_user)); // the user's again, not immutable
    EXPECT_EQ(
        fleet::test::run({"/usr/sbin/runuser", "-u", m_user, "--", "touch", m_legacy + "/writable"})
            .exit_code,
        0);
    // What the programs and fleet-admin leave at run time, which purge takes away with the rest.
    write_file("/var/log/fleet-dispatch/helper.log", "{}\n", 0600);
    write_file("/var/lib/fleet-dispatch/helper-totp.json", "{}\n", 0600);
    write_file("/etc/fleet-dispatch/secrets/claude.env", "KEY=1\n", 0600);
    const std::string rule = "/etc/sudoers.d/fleet-helper-" + m_user;
    write_file(rule, m_user + " ALL=(root) NOPASSWD: /usr/sbin/fleet-helper\n", 0440);
    const ProcessResult purge = fleet::test::run(
        {"/usr/bin/apt-get", "purge", "-y", "-qq", "fleet-dispatch"}, system_env());
    EXPECT_EQ(purge.exit_code, 0) << purge.out << purge.err;
    EXPECT_NE(purge.out.find("left: runs in the agents' homes"), std::string::npos) << purge.out;
    EXPECT_FALSE(installed());
    for (const std::string& path :
         {std::string("/usr/bin/dispatch"), std::string("/usr/sbin/fleet-dispatch-setup"),
          std::string("/usr/share/fleet-dispatch"), std::string("/etc/fleet-dispatch"),
          std::string("/var/lib/fleet-dispatch"), std::string("/var/log/fleet-dispatch"),
          std::string("/etc/logrotate.d/fleet-dispatch"), rule}) {
        EXPECT_FALSE(fs::exists(path)) << path;
    }
    EXPECT_TRUE(fs::exists(runs + id + "/status.json"));
}

// An upgrade from 0.1.0, whose setup rewrote the conffile config.toml, over a changed shipped
// config.toml, as SSM runs it: apt-get with stdin on /dev/null and no terminal. It goes through
// without dpkg's question; what setup wrote lives on in a drop-in; the old config loads.
TEST_F(PackageOnHost, UpgradesFromThePreviousReleaseWithoutAPrompt) {
    const std::string previous = m_root + "/fleet-dispatch_0.1.0_previous.deb";
    fleet::test::run_ok(
        {std::string(FLEET_SOURCE_DIR) + "/tests/support/make-previous-deb", deb_path(), previous});
    ProcessResult apt = fleet::test::run(
        {"/usr/bin/apt-get", "install", "-y", "-qq", "--no-install-recommends", previous},
        system_env());
    ASSERT_EQ(apt.exit_code, 0) << apt.out << apt.err;
    // What 0.1.0's fleet-dispatch-setup --user did to the conffile.
    const std::string old_config =
        read_file(std::string(FLEET_SOURCE_DIR) + "/tests/data/previous/config-0.1.0.toml");
    const std::string setup_wrote = std::regex_replace(
        old_config, std::regex("\nuser = \"ubuntu\"\n"), "\nuser = \"" + m_user + "\"\n");
    ASSERT_NE(setup_wrote, old_config);
    write_file("/etc/fleet-dispatch/config.toml", setup_wrote, 0644);
    ASSERT_NE(fleet::test::run_ok({"/usr/bin/dispatch", "config"}).find("user = \"" + m_user),
              std::string::npos);
    // And 0.1.0's fleet-admin install-sudoers wrote the helper's path of then.
    const std::string rule = "/etc/sudoers.d/fleet-helper-" + m_user;
    const std::string comment = "# fleet-helper's rule (fleet-admin install-sudoers): " + m_user +
                                " may run this helper, and nothing else, as root.\n";
    write_file(rule, comment + m_user + " ALL=(root) NOPASSWD: /usr/bin/fleet-helper\n", 0440);

    apt = fleet::test::run(
        {"/usr/bin/apt-get", "install", "-y", "-qq", "--no-install-recommends", deb_path()},
        system_env());
    ASSERT_EQ(apt.exit_code, 0) << apt.out << apt.err;
    EXPECT_EQ((apt.out + apt.err).find("Configuration file"), std::string::npos) << apt.out;
    EXPECT_NE(fleet::test::run_ok({"/usr/bin/dpkg-query", "-W", "-f=${Version}", "fleet-dispatch"})
                  .find(PACKAGE_VERSION),
              std::string::npos);
    EXPECT_EQ(read_file("/etc/fleet-dispatch/config.toml"),
              read_file(std::string(FLEET_SOURCE_DIR) + "/deploy/etc/config.toml"));
    EXPECT_NE(
        read_file("/etc/fleet-dispatch/config.d/50-setup.toml").find("\nuser = \"" + m_user + "\""),
        std::string::npos);
    EXPECT_FALSE(fs::exists("/etc/fleet-dispatch/config.toml.fleet-0.1"));
    const std::string config = fleet::test::run_ok({"/usr/bin/dispatch", "config"});
    EXPECT_NE(config.find("\nuser = \"" + m_user + "\"\n"), std::string::npos) << config;
    // fleet-helper moved to /usr/sbin: the upgrade wrote 0.1.0's rule again with the new path
    // (Debian 13's sudo does not match the old path's link by inode), so the agents' `sudo
    // fleet-helper`, which sudo finds on its secure_path, is admitted; the old name is a link.
    EXPECT_EQ(read_file(rule), comment + m_user + " ALL=(root) NOPASSWD: /usr/sbin/fleet-helper\n");
    EXPECT_NE(apt.out.find("fleet-dispatch: " + rule + " names /usr/sbin/fleet-helper now"),
              std::string::npos)
        << apt.out;
    EXPECT_EQ(fs::read_symlink("/usr/bin/fleet-helper"), "../sbin/fleet-helper");
    for (const char* helper : {"fleet-helper", "/usr/sbin/fleet-helper"}) {
        const ProcessResult ping = fleet::test::run(
            {"/usr/sbin/runuser", "-u", m_user, "--", "/usr/bin/sudo", "-n", helper, "ping"},
            system_env());
        EXPECT_EQ(ping.exit_code, 0) << helper << ": " << ping.out << ping.err;
    }
    // The control: the rule admits only the helper.
    EXPECT_NE(fleet::test::run({"/usr/sbin/runuser", "-u", m_user, "--", "/usr/bin/sudo", "-n",
                                "/usr/bin/dispatch", "--version"},
                               system_env())
                  .exit_code,
              0);
    fs::remove(rule);

    // A drop-in this version does not know: the reinstall completes (never half-configured)
    // and says so in one line, and dispatch refuses every run with the error, starting nothing.
    EXPECT_EQ(apt.out.find("does not load"), std::string::npos) << apt.out; // the control
    const std::string unknown = "/etc/fleet-dispatch/config.d/70-operator.toml";
    write_file(unknown, "no_such_setting = 1\n", 0644);
    apt = fleet::test::run({"/usr/bin/apt-get", "install", "--reinstall", "-y", "-qq",
                            "--no-install-recommends", deb_path()},
                           system_env());
    EXPECT_EQ(apt.exit_code, 0) << apt.out << apt.err;
    EXPECT_NE(apt.out.find("fleet-dispatch: warning: the configuration does not load with this "
                           "version, so every run is refused until it is fixed: "),
              std::string::npos)
        << apt.out;
    EXPECT_NE(apt.out.find("70-operator.toml"), std::string::npos) << apt.out;
    EXPECT_EQ(fleet::test::run_ok(
                  {"/usr/bin/dpkg-query", "-W", "-f=${db:Status-Abbrev}", "fleet-dispatch"}),
              "ii ");
    const ProcessResult refused =
        fleet::test::run({"/usr/bin/dispatch", "run", "hello"}, system_env());
    EXPECT_EQ(refused.exit_code, 2) << refused.err;
    EXPECT_NE(refused.err.find("70-operator.toml"), std::string::npos) << refused.err;
    EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
    EXPECT_FALSE(fs::exists("/home/" + m_user + "/.local/state/fleet-dispatch/runs"));
    fs::remove(unknown);
}

// The same through the Ansible role: it installs the .deb, templates the config and migrates the
// old scripts; the old command line then works, and a second run changes nothing.
TEST_F(PackageOnHost, ThroughTheAnsibleRole) {
    const nlohmann::json vars = {{"ansible_python_interpreter", "/usr/bin/python3"},
                                 {"fleet_hosts", "localhost"},
                                 {"fleet_dispatch_package_path", deb_path()},
                                 {"fleet_dispatch_user", m_user},
                                 {"fleet_dispatch_legacy_dir", m_legacy},
                                 {"fleet_dispatch_path", {m_root + "/fakes"}},
                                 {"fleet_dispatch_unified", {"claude", "codex"}},
                                 {"fleet_dispatch_unit_dirs", {m_root}}};
    RunOptions options = system_env();
    options.env->push_back("HOME=" + m_root);
    options.env->push_back("ANSIBLE_NOCOLOR=1");
    options.env->push_back("ANSIBLE_LOCAL_TEMP=" + m_root + "/ansible-tmp");
    options.timeout_seconds = 600;
    const std::vector<std::string> argv{"/usr/bin/ansible-playbook",
                                        "-i",
                                        "localhost,",
                                        "-c",
                                        "local",
                                        "-e",
                                        vars.dump(),
                                        std::string(FLEET_SOURCE_DIR) + "/deploy/ansible/site.yml"};
    const ProcessResult first = fleet::test::run(argv, options);
    ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
    ASSERT_TRUE(installed());

    const ProcessResult old = old_command_line();
    EXPECT_EQ(old.exit_code, 0) << old.out << old.err;
    const std::string id = fleet::test::run_id_of(old.out);
    ASSERT_FALSE(id.empty()) << old.out;
    EXPECT_EQ(
        nlohmann::json::parse(read_file("/home/" + m_user + "/.local/state/fleet-dispatch/runs/" +
                                        id + "/status.json"))["state"],
        "succeeded");

    const ProcessResult second = fleet::test::run(argv, options);
    EXPECT_EQ(second.exit_code, 0) << second.out;
    EXPECT_NE(second.out.find("changed=0"), std::string::npos) << second.out;

    fleet::test::run({"/usr/sbin/fleet-dispatch-setup", "--user", m_user, "--legacy-dir", m_legacy,
                      "--uninstall"},
                     system_env());
}

} // namespace
