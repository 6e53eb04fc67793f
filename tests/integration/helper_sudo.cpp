// fleet-helper (helper_test suite) through real sudo and the rule install-sudoers writes.
#include <filesystem>
#include <sys/stat.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/helper_fixture.hpp"
#include "support/accounts.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

// Real sudo: a throwaway user reaches the helper only through the rule install-sudoers wrote,
// and only with the policy at its fixed path.
class HelperSudo : public Helper {
protected:
    static void SetUpTestSuite() {
        Helper::SetUpTestSuite();
        s_accounts = new Accounts();
        s_user = Accounts::unique_name("s");
        s_accounts->add_user(s_user);
        s_dotted = Accounts::unique_name("s.d");
        s_accounts->add_user(s_dotted);
        s_placed.directory("/etc/fleet-dispatch");
        s_created_policy = s_placed.file(k_fixed_policy, policy_text(""), 0644);
    }

    static void TearDownTestSuite() {
        for (const std::string& name : {"fleet-helper-" + s_user, "fleet-helper-" + dotted_file(),
                                        "zz-" + s_user + "-broken"}) {
            fs::remove("/etc/sudoers.d/" + name);
        }
        s_placed.put_back();
        delete s_accounts;
        Helper::TearDownTestSuite();
    }

    static std::string dotted_file() {
        std::string name = s_dotted;
        name.replace(name.find('.'), 1, "%2e");
        return name;
    }

    static ProcessResult as_user(const std::string& user, const std::vector<std::string>& argv) {
        std::vector<std::string> full{"/usr/sbin/runuser", "-u", user, "--"};
        full.insert(full.end(), argv.begin(), argv.end());
        return fleet::test::run(full);
    }

    static ProcessResult sudo_helper(const std::vector<std::string>& args,
                                     const std::string& user = s_user) {
        std::vector<std::string> argv{"/usr/bin/sudo", "-n", s_helper};
        argv.insert(argv.end(), args.begin(), args.end());
        return as_user(user, argv);
    }

    static ProcessResult install(const std::string& user, const std::string& helper = s_helper) {
        return fleet::test::run({k_admin, "install-sudoers", "--user", user, "--helper", helper});
    }

    void SetUp() override {
        Helper::SetUp();
        if (!s_created_policy) {
            GTEST_SKIP() << k_fixed_policy << " belongs to a real installation";
        }
    }

    static constexpr const char* k_fixed_policy = "/etc/fleet-dispatch/helper.toml";
    static inline Accounts* s_accounts = nullptr;
    static inline std::string s_user;
    static inline std::string s_dotted;
    static inline fleet::test::PlacedPaths s_placed;
    static inline bool s_created_policy = false;
};

TEST_F(HelperSudo, TheRuleInstallSudoersWritesIsTheOnlyWayIn) {
    ProcessResult result = sudo_helper({"ping"});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("password is required"), std::string::npos) << result.err;

    result = install(s_user);
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    const std::string file = "/etc/sudoers.d/fleet-helper-" + s_user;
    EXPECT_EQ(result.out, "fleet-admin: wrote " + file + ": " + s_user +
                              " ALL=(root) NOPASSWD: " + s_helper + "\n");
    struct stat info {};
    ASSERT_EQ(stat(file.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0440U);
    EXPECT_EQ(info.st_uid, 0U);
    EXPECT_EQ(info.st_gid, 0U);
    EXPECT_NE(install(s_user).out.find("already current"), std::string::npos); // idempotent
    EXPECT_EQ(fleet::test::run({"/usr/sbin/visudo", "-c", "-q"}).exit_code, 0);

    result = sudo_helper({"ping"});
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_EQ(answer(result)["policy"], k_fixed_policy);
    const json audit = audit_lines().back();
    EXPECT_EQ(audit["sudo_user"], s_user);
    EXPECT_EQ(audit["sudo_uid"], fleet::test::uid_of(s_user));
    EXPECT_EQ(audit["uid"], 0);

    // The rule names the helper and nothing else.
    result = as_user(s_user, {"/usr/bin/sudo", "-n", "/bin/true"});
    EXPECT_NE(result.exit_code, 0);
}

TEST_F(HelperSudo, ThroughSudoTheCallerControlsNeitherPolicyNorEnvironment) {
    ASSERT_EQ(install(s_user).exit_code, 0);
    ProcessResult result = sudo_helper({"service", "restart", "nginx"});
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    const std::string env = read_file(fake("env"));
    EXPECT_EQ(env.find("SUDO_"), std::string::npos);
    EXPECT_NE(env.find("SYSTEMD_PAGER=cat"), std::string::npos);

    result = sudo_helper({"--policy", s_policy, "ping"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(answer(result)["error"].get<std::string>().find("--policy is refused"),
              std::string::npos);

    result = as_user(s_user, {"/usr/bin/sudo", "-n", "SYSTEMD_PAGER=/bin/sh", s_helper, "ping"});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_EQ(result.out, ""); // sudo refused before the helper ran
    result = as_user(s_user, {"/usr/bin/sudo", "-n", "-E", s_helper, "ping"});
    EXPECT_NE(result.exit_code, 0);

    // Root's set-up verbs are not the helper's at all: the agents' road does not lead to them.
    result = sudo_helper({"totp", "enroll", "--force"});
    EXPECT_EQ(result.exit_code, 4);
    EXPECT_NE(result.out.find("is fleet-admin's"), std::string::npos) << result.out;
    EXPECT_EQ(sudo_helper({"install-sudoers", "--user", s_user}).exit_code, 4);

    // Without sudo the user is no one: no policy path of its choosing, no audit log, no root.
    result = as_user(s_user, {s_helper, "--policy", s_policy, "service", "restart", "nginx"});
    EXPECT_EQ(result.exit_code, 2);
}

TEST_F(HelperSudo, HandlesUserNamesWithADot) {
    const ProcessResult result = install(s_dotted);
    ASSERT_EQ(result.exit_code, 0) << result.out;
    EXPECT_NE(result.out.find("/etc/sudoers.d/fleet-helper-" + dotted_file() + ":"),
              std::string::npos)
        << result.out;
    EXPECT_EQ(sudo_helper({"ping"}, s_dotted).exit_code, 0);
}

TEST_F(HelperSudo, RefusesBadUsersAndAHelperOthersCouldReplace) {
    for (const char* user : {"no-such-user-here", "root", "-oProxyCommand=x", "x';id;'"}) {
        const ProcessResult result = install(user);
        EXPECT_EQ(result.exit_code, 1) << user << result.out;
    }
    const std::string loose = s_root + "/loose";
    fs::create_directories(loose);
    fs::copy_file(s_helper, loose + "/fleet-helper", fs::copy_options::overwrite_existing);
    chmod(loose.c_str(), 0777);
    ProcessResult result = install(s_user, loose + "/fleet-helper");
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("directory " + loose), std::string::npos) << result.err;
    chmod(loose.c_str(), 0755);
    chmod((loose + "/fleet-helper").c_str(), 0775);
    EXPECT_EQ(install(s_user, loose + "/fleet-helper").exit_code, 1);
    chmod((loose + "/fleet-helper").c_str(), 0755);
    EXPECT_EQ(install(s_user, loose + "/fleet-helper").exit_code, 0); // control
    EXPECT_EQ(install(s_user).exit_code, 0);
}

TEST_F(HelperSudo, RollsBackWhenTheWholeConfigurationFails) {
    ASSERT_EQ(install(s_user).exit_code, 0);
    const std::string file = "/etc/sudoers.d/fleet-helper-" + s_user;
    const std::string before = read_file(file);
    const std::string other = s_root + "/other";
    fs::create_directories(other);
    fs::copy_file(s_helper, other + "/fleet-helper", fs::copy_options::overwrite_existing);
    const std::string broken = "/etc/sudoers.d/zz-" + s_user + "-broken";
    write_file(broken, "this is not sudoers syntax\n", 0440);
    const ProcessResult result = install(s_user, other + "/fleet-helper");
    fs::remove(broken);
    EXPECT_EQ(result.exit_code, 1) << result.out;
    EXPECT_NE(result.err.find("previous rule file is back"), std::string::npos) << result.err;
    EXPECT_EQ(read_file(file), before);
    for (const auto& entry : fs::directory_iterator("/etc/sudoers.d")) {
        EXPECT_EQ(entry.path().filename().string().find(".fleet-helper"), std::string::npos)
            << "staging file left behind: " << entry.path();
    }
    EXPECT_EQ(sudo_helper({"ping"}).exit_code, 0);
}

} // namespace
