// The Ansible role and playbooks, with Debian's ansible-core against localhost
// (ansible_connection=local), as root: syntax; the hosts they act on; check mode on this host
// (nothing may change); the role applied for real into a scratch root (fleet_dispatch_root),
// twice, the second time with nothing to change; each feature turned off again; and
// dispatch.yml starting a detached run and collecting its id; report.yml fetching the runs into
// the layout dispatch report --from reads, and making the page.
#include <algorithm>
#include <filesystem>
#include <pwd.h>
#include <regex>
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

const std::string k_ansible_dir = std::string(FLEET_SOURCE_DIR) + "/deploy/ansible";

class Ansible : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        // fleet-helper's default audit log, where the role's policy points (the test asks it for
        // its policy): removed after the suite when the suite made it.
        s_made_default_log = !fs::exists("/var/log/fleet-dispatch");
        s_root = fleet::test::make_root_scratch("ansible-test");
        for (const char* dir : {"/home", "/units", "/bin"}) {
            fs::create_directories(s_root + dir);
        }
        write_file(s_root + "/units/amazon-ssm-agent.service",
                   "[Service]\nExecStart=/usr/bin/sleep infinity\n", 0644);
        fs::copy_file(DISPATCH_PATH, s_root + "/bin/dispatch");
        fs::copy_file(FLEET_HELPER_PATH, s_root + "/bin/fleet-helper");
        fleet::test::copy_executables(FAKES_DIR, s_root + "/fakes");
        fleet::test::run_ok({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                             "agent@controller", "-f", s_root + "/diag_key"});
        s_key = read_file(s_root + "/diag_key.pub");
        s_key.erase(s_key.find_last_not_of('\n') + 1);
        s_accounts = new Accounts();
        s_user = Accounts::unique_name("a");
        s_accounts->add_user(s_user);
    }

    static void TearDownTestSuite() {
        // The diag account the role makes in TurningAFeatureOff..., should that test stop early.
        fleet::test::run({"/usr/sbin/userdel", Accounts::unique_name("d")});
        delete s_accounts;
        fs::remove_all(s_root);
        if (s_made_default_log) {
            fs::remove_all("/var/log/fleet-dispatch");
        }
    }
    static inline bool s_made_default_log = false;

    // The playbooks act on `hosts` (fleet_hosts; "" leaves it unset) of `inventory`.
    static ProcessResult playbook(const std::string& name, std::vector<std::string> extra,
                                  const std::string& hosts = "localhost",
                                  const std::string& inventory = "localhost,") {
        std::vector<std::string> argv{"/usr/bin/ansible-playbook",
                                      "-i",
                                      inventory,
                                      "-c",
                                      "local",
                                      "-e",
                                      "ansible_python_interpreter=/usr/bin/python3",
                                      k_ansible_dir + "/" + name};
        if (!hosts.empty()) {
            argv.insert(argv.end(), {"-e", "fleet_hosts=" + hosts});
        }
        argv.insert(argv.end(), extra.begin(), extra.end());
        RunOptions options;
        options.env = std::vector<std::string>{
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME=" + s_root + "/home", "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0",
            "ANSIBLE_LOCAL_TEMP=" + s_root + "/home/tmp"};
        options.cwd = s_root;
        options.timeout_seconds = 300;
        return fleet::test::run(argv, options);
    }

    // "changed=N" from the play recap; -1 when there is none.
    static int changed(const ProcessResult& result) {
        std::smatch match;
        static const std::regex recap("localhost\\s+: ok=\\d+\\s+changed=(\\d+)");
        return std::regex_search(result.out, match, recap) ? std::stoi(match[1]) : -1;
    }

    // Every feature on, written under `root`.
    static nlohmann::json role_json(const std::string& root) {
        return {{"fleet_dispatch_install_package", false},
                {"fleet_dispatch_root", root},
                {"fleet_dispatch_user", s_user},
                {"fleet_dispatch_helper_enabled", true},
                {"fleet_dispatch_helper_path", s_root + "/bin/fleet-helper"},
                {"fleet_dispatch_helper_services", {{"nginx", {"status", "restart"}}}},
                {"fleet_dispatch_diag_enabled", true},
                {"fleet_dispatch_diag_keys", {s_key}},
                {"fleet_dispatch_diag_from", "10.0.0.0/8"},
                {"fleet_dispatch_prune_older_than", "30d"},
                // Only where systemd runs, and never with a scratch root: the package's units.
                {"fleet_dispatch_timers", true},
                {"fleet_dispatch_unit_dirs", {s_root + "/units"}}};
    }
    static std::vector<std::string> role_vars(const std::string& root) {
        return {"-e", role_json(root).dump()};
    }

    static inline std::string s_root, s_key, s_user;
    static inline Accounts* s_accounts = nullptr;
};

TEST_F(Ansible, PlaybooksPassTheSyntaxCheck) {
    for (const char* name : {"site.yml", "dispatch.yml", "report.yml"}) {
        const ProcessResult result = playbook(name, {"--syntax-check"});
        EXPECT_EQ(result.exit_code, 0) << name << result.out << result.err;
    }
}

// The group `fleet` of the inventory, or the pattern in fleet_hosts: never every host of an
// inventory by default.
TEST_F(Ansible, ThePlaybooksActOnTheFleetGroupOrOnFleetHostsOnly) {
    const std::string inventory = s_root + "/inventory";
    write_file(inventory, "[fleet]\nlocalhost\n\n[other]\nelsewhere.invalid\n", 0644);
    for (const char* name : {"site.yml", "dispatch.yml", "report.yml"}) {
        const ProcessResult grouped = playbook(name, {"--list-hosts"}, "", inventory);
        EXPECT_EQ(grouped.exit_code, 0) << grouped.out << grouped.err;
        EXPECT_NE(grouped.out.find("hosts (1):\n      localhost\n"), std::string::npos)
            << name << grouped.out;
        // No group fleet: no host; the control: the same host named in fleet_hosts.
        EXPECT_NE(playbook(name, {"--list-hosts"}, "").out.find("hosts (0):"), std::string::npos)
            << name;
        EXPECT_NE(playbook(name, {"--list-hosts"}).out.find("hosts (1):\n      localhost\n"),
                  std::string::npos)
            << name;
    }
}

// Features on, and off: then the role looks for what to remove, and removes nothing either.
TEST_F(Ansible, CheckModeOnThisHostChangesNothing) {
    for (const bool on : {true, false}) {
        const bool etc_was_there = fs::exists("/etc/fleet-dispatch");
        nlohmann::json vars = role_json("");
        vars.update({{"fleet_dispatch_helper_enabled", on},
                     {"fleet_dispatch_diag_enabled", on},
                     {"fleet_dispatch_ssm_dropin", on}});
        const ProcessResult result = playbook("site.yml", {"-e", vars.dump(), "--check"});
        EXPECT_EQ(result.exit_code, 0) << on << result.out << result.err;
        EXPECT_GT(changed(result), 0) << result.out;                 // it would change things...
        EXPECT_EQ(fs::exists("/etc/fleet-dispatch"), etc_was_there); // ...and did not
        EXPECT_FALSE(fs::exists("/etc/sudoers.d/fleet-helper-" + s_user));
    }
}

// docs/ansible.md's first command on a fresh host: --check with the package to install. The copy
// copies nothing in check mode, so the install says what it would do instead of failing.
TEST_F(Ansible, CheckModeOnAFreshHostWithThePackageToInstall) {
    const std::string deb = s_root + "/fleet-dispatch_0.0.0+check_amd64.deb";
    write_file(deb, "not installed in check mode\n", 0644);
    const std::string copied = "/var/cache/apt/archives/" + fs::path(deb).filename().string();
    const bool etc_was_there = fs::exists("/etc/fleet-dispatch");
    std::vector<std::string> extra = role_vars("");
    const nlohmann::json package = {{"fleet_dispatch_install_package", true},
                                    {"fleet_dispatch_package_path", deb}};
    extra.insert(extra.end(), {"-e", package.dump(), "--check"});
    const ProcessResult result = playbook("site.yml", extra);
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_NE(result.out.find("would install " + fs::path(deb).filename().string()),
              std::string::npos)
        << result.out;
    EXPECT_FALSE(fs::exists(copied));
    EXPECT_EQ(fs::exists("/etc/fleet-dispatch"), etc_was_there);
}

TEST_F(Ansible, TheRoleAppliesForRealIntoAScratchRootAndAgainChangesNothing) {
    const std::string root = s_root + "/root";
    // The package's conffile, as the package would have put it there: the role never writes it.
    const std::string shipped =
        read_file(std::string(FLEET_SOURCE_DIR) + "/deploy/etc/config.toml");
    fs::create_directories(root + "/etc/fleet-dispatch");
    write_file(root + "/etc/fleet-dispatch/config.toml", shipped, 0644);
    ProcessResult result = playbook("site.yml", role_vars(root));
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_GT(changed(result), 0);
    EXPECT_EQ(read_file(root + "/etc/fleet-dispatch/config.toml"), shipped);
    const std::pair<std::string, unsigned> modes[] = {
        {"/etc/fleet-dispatch/config.d/60-ansible.toml", 0644},
        {"/etc/fleet-dispatch/secrets", 0700},
        {"/etc/fleet-dispatch/helper.toml", 0644},
        {"/etc/systemd/system/fleet-helper.socket", 0644},
        {"/etc/systemd/system/fleet-helper@.service", 0644},
        {"/etc/fleet-dispatch/diag.toml", 0644},
        {"/etc/sudoers.d/fleet-helper-" + s_user, 0440},
        {"/var/lib/fleet-diag/.ssh/authorized_keys", 0644},
        {"/etc/ssh/sshd_config.d/fleet-diag-diag.conf", 0644},
        {"/etc/systemd/system/amazon-ssm-agent.service.d/fleet-dispatch.conf", 0644},
        {"/var/log/fleet-diag", 0750},
        {"/var/log/fleet-diag/audit.log", 0620}};
    for (const auto& [path, mode] : modes) {
        struct stat info {};
        ASSERT_EQ(stat((root + path).c_str(), &info), 0) << path;
        EXPECT_EQ(info.st_mode & 07777, mode) << path;
        EXPECT_EQ(info.st_uid, 0U) << path;
    }
    EXPECT_EQ(read_file(root + "/etc/sudoers.d/fleet-helper-" + s_user),
              "# fleet-helper's rule (fleet-admin install-sudoers): " + s_user +
                  " may run this helper, and nothing else, as root.\n" + s_user +
                  " ALL=(root) NOPASSWD: " + s_root + "/bin/fleet-helper\n");
    EXPECT_EQ(read_file(root + "/var/lib/fleet-diag/.ssh/authorized_keys"),
              "restrict,from=\"10.0.0.0/8\",command=\"/usr/lib/fleet-dispatch/fleet-diag\" " +
                  s_key + "\n");
    EXPECT_EQ(
        read_file(root + "/etc/systemd/system/amazon-ssm-agent.service.d/fleet-dispatch.conf"),
        read_file(std::string(FLEET_SOURCE_DIR) + "/deploy/systemd/ssm-agent-restart.conf"));
    // What the role wrote, the programs and validators accept.
    EXPECT_EQ(fleet::test::run({"/usr/sbin/visudo", "-c", "-q", "-f",
                                root + "/etc/sudoers.d/fleet-helper-" + s_user})
                  .exit_code,
              0);
    EXPECT_EQ(fleet::test::run({"/usr/sbin/sshd", "-t", "-f",
                                root + "/etc/ssh/sshd_config.d/fleet-diag-diag.conf"})
                  .exit_code,
              0);
    const ProcessResult config = fleet::test::run(
        {s_root + "/bin/dispatch", "-c", root + "/etc/fleet-dispatch/config.toml", "config"});
    EXPECT_EQ(config.exit_code, 0) << config.err;
    EXPECT_NE(config.out.find("user = \"" + s_user + "\""), std::string::npos) << config.out;
    EXPECT_NE(config.out.find("\nprune_older_than = \"30d\"\n"), std::string::npos) << config.out;
    EXPECT_NE(config.out.find("# merged over it: " + root +
                              "/etc/fleet-dispatch/config.d/60-ansible.toml\n"),
              std::string::npos)
        << config.out;
    const ProcessResult policy =
        fleet::test::run({s_root + "/bin/fleet-helper", "--policy",
                          root + "/etc/fleet-dispatch/helper.toml", "policy"});
    EXPECT_NE(policy.out.find("\"nginx\":[\"restart\",\"status\"]"), std::string::npos)
        << policy.out << policy.err;

    result = playbook("site.yml", role_vars(root));
    EXPECT_EQ(result.exit_code, 0) << result.out;
    EXPECT_EQ(changed(result), 0) << result.out;
}

// Turned off one after the other, each feature's files go and the others' stay; the diag account
// (made for real on this host: fleet_dispatch_manage_accounts) goes too, its audit log stays, and
// with everything off a second run changes nothing.
TEST_F(Ansible, TurningAFeatureOffRemovesWhatItMadeAndNothingElse) {
    const std::string root = s_root + "/off";
    const std::string diag = Accounts::unique_name("d");
    const std::string home = "/var/lib/fleet-" + diag;
    const std::vector<std::string> helper = {
        "/etc/sudoers.d/fleet-helper-" + s_user, "/etc/systemd/system/fleet-helper.socket",
        "/etc/systemd/system/fleet-helper@.service", "/etc/fleet-dispatch/helper.toml"};
    const std::vector<std::string> diag_files = {
        "/etc/ssh/sshd_config.d/fleet-diag-" + diag + ".conf", home + "/.ssh/authorized_keys", home,
        "/etc/fleet-dispatch/diag.toml"};
    const std::vector<std::string> ssm = {
        "/etc/systemd/system/amazon-ssm-agent.service.d/fleet-dispatch.conf"};
    const std::vector<std::string> kept = {"/etc/fleet-dispatch/config.d/60-ansible.toml",
                                           "/var/log/fleet-diag/audit.log"};
    const auto expect_there = [&](const std::vector<std::string>& paths, bool there) {
        for (const std::string& path : paths) {
            EXPECT_EQ(fs::exists(root + path), there) << path;
        }
    };
    nlohmann::json vars = role_json(root);
    vars.update({{"fleet_dispatch_manage_accounts", true}, {"fleet_dispatch_diag_user", diag}});
    ProcessResult result = playbook("site.yml", {"-e", vars.dump()});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    // The control: on, every feature's files are there, and the account.
    for (const auto* paths : {&helper, &diag_files, &ssm, &kept}) {
        expect_there(*paths, true);
    }
    ASSERT_NE(getpwnam(diag.c_str()), nullptr);

    const std::pair<const char*, const std::vector<std::string>*> features[] = {
        {"fleet_dispatch_helper_enabled", &helper},
        {"fleet_dispatch_diag_enabled", &diag_files},
        {"fleet_dispatch_ssm_dropin", &ssm}};
    std::vector<const std::vector<std::string>*> on = {&helper, &diag_files, &ssm};
    for (const auto& [variable, paths] : features) {
        vars[variable] = false;
        result = playbook("site.yml", {"-e", vars.dump()});
        ASSERT_EQ(result.exit_code, 0) << variable << result.out << result.err;
        on.erase(std::find(on.begin(), on.end(), paths));
        expect_there(*paths, false);
        for (const auto* still : on) {
            expect_there(*still, true);
        }
        expect_there(kept, true);
        EXPECT_EQ(getpwnam(diag.c_str()) != nullptr, vars["fleet_dispatch_diag_enabled"] == true)
            << variable;
    }
    result = playbook("site.yml", {"-e", vars.dump()});
    EXPECT_EQ(result.exit_code, 0) << result.out;
    EXPECT_EQ(changed(result), 0) << result.out;
}

// Off, the role removes an account of the diag name only when its home is the role's
// (/var/lib/fleet-NAME); the control is the account above. Keys and .ssh under that path go, a
// home holding more stays.
TEST_F(Ansible, DiagOffKeepsAnAccountItDidNotMakeAndWhatItDidNotWrite) {
    const std::string root = s_root + "/kept";
    const std::string other = Accounts::unique_name("o");
    s_accounts->add_user(other); // its home is /home/NAME
    const std::string home = root + "/var/lib/fleet-" + other;
    fs::create_directories(home + "/.ssh");
    write_file(home + "/.ssh/authorized_keys", s_key + "\n", 0644);
    write_file(home + "/notes", "not the role's\n", 0644);
    nlohmann::json vars = role_json(root);
    vars.update({{"fleet_dispatch_manage_accounts", true},
                 {"fleet_dispatch_diag_user", other},
                 {"fleet_dispatch_diag_enabled", false}});
    const ProcessResult result = playbook("site.yml", {"-e", vars.dump()});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_NE(getpwnam(other.c_str()), nullptr);
    EXPECT_FALSE(fs::exists(home + "/.ssh"));
    EXPECT_EQ(read_file(home + "/notes"), "not the role's\n");
}

TEST_F(Ansible, TheDispatchPlaybookStartsRunsAndCollectsTheirIds) {
    const std::string config = s_root + "/dispatch-config.toml";
    write_file(config,
               "user = \"" + s_user + "\"\ngrace = \"1s\"\npath = [\"" + s_root + "/fakes\"]\n",
               0644);
    const std::string prompt = "it's \"$(id)\" `id`\nline two\n";
    // On a repository: the agent works on its clone, and its branch lands in the origin.
    const std::string origin = "/home/" + s_user + "/app";
    const std::string script =
        "git init -q -b main \"$0\" && cd \"$0\" && echo app >README.md && git add README.md "
        "&& git -c user.name=t -c user.email=t@x commit -qm init";
    fleet::test::run_ok({"/usr/sbin/runuser", "-u", s_user, "--", "/bin/sh", "-c", script, origin});
    const nlohmann::json vars = {{"dispatch", s_root + "/bin/dispatch"},
                                 {"dispatch_config", config},
                                 {"agents", "claude"},
                                 {"prompt", prompt},
                                 {"repo", origin + "@main"},
                                 {"results_file", s_root + "/runs.json"}};
    const ProcessResult result = playbook("dispatch.yml", {"-e", vars.dump()});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    const nlohmann::json runs = nlohmann::json::parse(read_file(s_root + "/runs.json"));
    ASSERT_TRUE(runs.contains("localhost")) << runs.dump();
    const std::string id = runs["localhost"];
    const ProcessResult waited =
        fleet::test::run({s_root + "/bin/dispatch", "-c", config, "wait", id});
    EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err;
    EXPECT_EQ(read_file("/home/" + s_user + "/.local/state/fleet-dispatch/runs/" + id +
                        "/work-claude/prompt.got"),
              prompt);
    EXPECT_EQ(
        fleet::test::run({"/usr/sbin/runuser", "-u", s_user, "--", "/usr/bin/git", "-C", origin,
                          "show-ref", "--verify", "-q", "refs/heads/fleet/" + id + "/claude"})
            .exit_code,
        0);
}

// report.yml: each host's runs as REPORT_DIR/HOST/runs.jsonl on the controller (here the same
// host), only those --label chose, then the page made from them.
TEST_F(Ansible, TheReportPlaybookFetchesEachHostsRunsAndMakesThePage) {
    const std::string config = s_root + "/report-config.toml";
    write_file(config,
               "user = \"" + s_user + "\"\ngrace = \"1s\"\npath = [\"" + s_root + "/fakes\"]\n",
               0644);
    const std::string dispatch = s_root + "/bin/dispatch";
    for (const char* label : {"suite=report", "suite=other"}) {
        fleet::test::run_ok({dispatch, "-c", config, "-a", "claude", "--label", label, "run", "x"});
    }
    const nlohmann::json vars = {{"dispatch", dispatch},
                                 {"dispatch_config", config},
                                 {"labels", {"suite=report"}},
                                 {"since", "1h"},
                                 {"report_dir", s_root + "/fleet-report"},
                                 {"report_html", s_root + "/out/fleet.html"}};
    // Started as root (as here), dispatch report writes as the agents' user.
    fs::create_directory(s_root + "/out");
    ASSERT_EQ(chown((s_root + "/out").c_str(), getpwnam(s_user.c_str())->pw_uid, 0), 0);
    const ProcessResult result = playbook("report.yml", {"-e", vars.dump()});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    const std::vector<std::string> lines =
        fleet::test::lines_of(read_file(s_root + "/fleet-report/localhost/runs.jsonl"));
    ASSERT_EQ(lines.size(), 1U) << "the run labelled suite=report only";
    EXPECT_EQ(nlohmann::json::parse(lines[0])["status"]["labels"]["suite"], "report");
    const std::string page = read_file(s_root + "/out/fleet.html");
    EXPECT_NE(page.find("<tr class=\"host\"><td>localhost</td>"), std::string::npos) << page;
}

} // namespace
