// The SSM Command document deploy/ssm/FleetDispatch-Install.yaml up to apt, run the way the SSM
// agent runs it (tests/ssm/ssm-agent-sim, its aws:downloadContent reading a local S3 stand-in):
// what it refuses to install, before apt ever runs. Nothing here can install fleet-dispatch:
// the packages that pass the sha256 check are for another architecture, or named otherwise.
// The install and upgrade through it, with the real .deb, are package_ssm.cpp's (package_test).
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "support/files.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using fleet::test::ProcessResult;
using fleet::test::read_file;
using fleet::test::RunOptions;
using fleet::test::write_file;

namespace {

const std::string k_source = FLEET_SOURCE_DIR;
const std::string k_document = k_source + "/deploy/ssm/FleetDispatch-Install.yaml";
const std::string k_simulator = k_source + "/tests/ssm/ssm-agent-sim";
const std::string k_bucket_url = "https://fleet-artifacts.s3.eu-central-1.amazonaws.com/releases/";

using Params = std::vector<std::pair<std::string, std::string>>;

std::string sha256_of(const std::string& path) {
    return fleet::test::run_ok({"/usr/bin/sha256sum", path}).substr(0, 64);
}

// "install ok installed 1.0", or empty when dpkg does not know the package.
std::string dpkg_state(const std::string& package) {
    return fleet::test::run({"/usr/bin/dpkg-query", "-W", "-f=${Status} ${Version}", package}).out;
}

class SsmInstall : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        s_root = fleet::test::make_root_scratch("ssm-install");
        s_releases = s_root + "/s3/fleet-artifacts/releases/";
        fs::create_directories(s_releases);
        s_host = fleet::test::run_ok({"/usr/bin/dpkg", "--print-architecture"});
        s_host.pop_back();
        s_foreign = s_host == "amd64" ? "arm64" : "amd64";
        s_before = dpkg_state("fleet-dispatch");
        // A '+' in the key, as in the real package's name: %2B in the URL.
        make_deb("fleet-dispatch", s_foreign, "fleet-dispatch_9.9+ssm_foreign.deb");
        make_deb("fleet-dispatch-ssm-test", s_host, "other-name.deb");
        make_deb("fleet-dispatch-ssm-test", "all", "other-name-all.deb");
        write_file(s_releases + "garbage.deb", std::string(4096, '\x7f') + "not an ar archive",
                   0644);
    }

    static void TearDownTestSuite() {
        // Only a broken name check could have installed it; take it away again if so.
        if (dpkg_state("fleet-dispatch-ssm-test").find(" installed ") != std::string::npos) {
            fleet::test::run({"/usr/bin/dpkg", "--purge", "fleet-dispatch-ssm-test"});
        }
        fs::remove_all(s_root);
    }

    void TearDown() override {
        EXPECT_EQ(dpkg_state("fleet-dispatch"), s_before) << "fleet-dispatch's state changed";
        EXPECT_EQ(dpkg_state("fleet-dispatch-ssm-test"), "");
    }

    static void make_deb(const std::string& package, const std::string& arch,
                         const std::string& name) {
        const std::string tree = s_root + "/tree-" + name;
        fs::create_directories(tree + "/DEBIAN");
        chmod(tree.c_str(), 0755);
        chmod((tree + "/DEBIAN").c_str(), 0755);
        write_file(tree + "/DEBIAN/control",
                   "Package: " + package + "\nVersion: 9.9+ssm\nArchitecture: " + arch +
                       "\nMaintainer: fleet-dispatch tests <tests@example.com>\n" +
                       "Description: a package the SSM document must not install\n",
                   0644);
        fleet::test::run_ok(
            {"/usr/bin/dpkg-deb", "--root-owner-group", "-b", tree, s_releases + name});
    }

    // The document, sent to this host through the simulator: a command's orchestration
    // directory of its own each time, as SSM gives every command.
    ProcessResult send(const std::string& document, const Params& params) {
        m_work = s_root + "/orchestration-" + std::to_string(++s_sent);
        std::vector<std::string> argv{k_simulator, document, "--cwd",     s_root,
                                      "--work",    m_work,   "--s3-root", s_root + "/s3"};
        for (const auto& [name, value] : params) {
            argv.push_back("--param");
            argv.push_back(name + "=" + value);
        }
        RunOptions options;
        options.env = std::vector<std::string>{}; // the simulator builds SSM's environment
        return fleet::test::run(argv, options);
    }

    ProcessResult install(const std::string& url, const std::string& sha256) {
        return send(k_document, {{"packageUrl", url}, {"packageSha256", sha256}});
    }

    // Whether the last command left a downloaded package behind.
    bool download_left() const {
        if (!fs::exists(m_work)) {
            return false;
        }
        for (const auto& entry : fs::recursive_directory_iterator(m_work)) {
            if (entry.path().filename() == "fleet-dispatch.deb") {
                return true;
            }
        }
        return false;
    }

    static inline std::string s_root, s_releases, s_host, s_foreign, s_before;
    static inline int s_sent = 0;
    std::string m_work;
};

TEST_F(SsmInstall, RefusesAPackageWhoseSha256IsNotTheOneGiven) {
    const std::string url = k_bucket_url + "fleet-dispatch_9.9%2Bssm_foreign.deb";
    const std::string right = sha256_of(s_releases + "fleet-dispatch_9.9+ssm_foreign.deb");
    for (const std::string& wrong :
         {sha256_of(s_releases + "other-name.deb"), std::string(64, '0')}) {
        const ProcessResult result = install(url, wrong);
        EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
        EXPECT_NE(result.out.find("Content downloaded to "), std::string::npos) << result.out;
        EXPECT_NE(result.err.find(url + " has sha256 " + right + ", not " + wrong),
                  std::string::npos)
            << result.err;
        EXPECT_FALSE(download_left());
    }
    // The control: the right sum gets past the check, to the next one (the architecture).
    const ProcessResult result = install(url, right);
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_EQ(result.err.find("sha256"), std::string::npos) << result.err;
    EXPECT_NE(
        result.err.find("fleet-dispatch 9.9+ssm is for " + s_foreign + "; this host is " + s_host),
        std::string::npos)
        << result.err;
    EXPECT_FALSE(download_left());
}

TEST_F(SsmInstall, RefusesWhatIsNotAFleetDispatchPackageForThisHost) {
    ProcessResult result =
        install(k_bucket_url + "garbage.deb", sha256_of(s_releases + "garbage.deb"));
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("garbage.deb is not a Debian package"), std::string::npos)
        << result.err;
    EXPECT_FALSE(download_left());
    // This host's architecture, or all, passes (the control); the name does not.
    for (const char* name : {"other-name.deb", "other-name-all.deb"}) {
        result = install(k_bucket_url + name, sha256_of(s_releases + name));
        EXPECT_EQ(result.exit_code, 2) << name;
        EXPECT_EQ(result.err.find(" is for "), std::string::npos) << result.err;
        EXPECT_NE(result.err.find("the package is fleet-dispatch-ssm-test, not fleet-dispatch"),
                  std::string::npos)
            << result.err;
        EXPECT_FALSE(download_left());
    }
}

// SSM refuses these at send-command: nothing is downloaded, nothing runs.
TEST_F(SsmInstall, SsmRefusesParametersOutsideTheDocument) {
    const std::string sha = sha256_of(s_releases + "other-name.deb");
    const std::string good = k_bucket_url + "other-name.deb";
    for (const auto& [name, value] : Params{
             {"packageUrl", "s3://fleet-artifacts/releases/other-name.deb"}, // not the agent's
             {"packageUrl", "http://fleet-artifacts.s3.amazonaws.com/releases/other-name.deb"},
             {"packageUrl", "https://fleet-artifacts.example.com/releases/other-name.deb"},
             {"packageUrl", "https://fleet-artifacts.s3.amazonaws.com.example.com/other-name.deb"},
             {"packageUrl", "https://fleet-artifacts.s3.amazonaws.com/releases/other-name.tar"},
             {"packageUrl", good + "\", \"path\": \"https://s3.amazonaws.com/x/y.deb"},
             {"packageUrl", k_bucket_url + "$(id).deb"},
             {"packageUrl", k_bucket_url + "a b.deb"},
             {"packageUrl", k_bucket_url + "a+b.deb"}, // a space to S3: %2B is a '+'
             {"packageUrl", ""},
             {"packageSha256", ""},
             {"packageSha256", sha.substr(0, 63)},
             {"packageSha256", sha + "0"},
             {"packageSha256", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"},
             {"packageSha256", sha + ";id"},
             {"action", "purge"},
             {"action", "install; id"}}) {
        Params params{{"packageUrl", good}, {"packageSha256", sha}};
        for (auto& param : params) {
            if (param.first == name) {
                param.second = value;
            }
        }
        if (name == "action") {
            params.emplace_back(name, value);
        }
        const ProcessResult result = send(k_document, params);
        EXPECT_EQ(result.exit_code, 2) << name << "=" << value << result.out;
        EXPECT_EQ(result.out, "") << name << "=" << value;
        EXPECT_NE(result.err.find("parameter " + name), std::string::npos) << result.err;
    }
    // The controls: both URL styles, and both actions, reach the package.
    for (const Params& params :
         {Params{{"packageUrl", good}, {"packageSha256", sha}, {"action", "upgrade"}},
          Params{{"packageUrl", "https://s3.amazonaws.com/fleet-artifacts/releases/other-name.deb"},
                 {"packageSha256", sha},
                 {"action", "install"}}}) {
        const ProcessResult result = send(k_document, params);
        EXPECT_NE(result.out.find("Content downloaded to "), std::string::npos) << result.err;
        EXPECT_NE(result.err.find("the package is fleet-dispatch-ssm-test"), std::string::npos)
            << result.err;
    }
}

// As the agent: an object S3 does not have fails the download step, and its onFailure: exit
// keeps the install step from running at all.
TEST_F(SsmInstall, AMissingObjectFailsTheDownloadAndNothingElseRuns) {
    const ProcessResult result = install(k_bucket_url + "fleet-dispatch_0.0.1_amd64.deb",
                                         sha256_of(s_releases + "other-name.deb"));
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("NoSuchKey"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("step install skipped"), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(result.err.find("FleetDispatch-Install"), std::string::npos) << result.err;
}

TEST_F(SsmInstall, RefusesToRunOnAnAgentWithoutEnvironmentInterpolation) {
    std::string document = read_file(k_document);
    size_t at = 0;
    while ((at = document.find("interpolationType: ENV_VAR", at)) != std::string::npos) {
        document.replace(at, 26, "description: \"old agent\"");
    }
    const std::string old = s_root + "/old-agent.yaml";
    write_file(old, document, 0644);
    const ProcessResult result =
        send(old, {{"packageUrl", k_bucket_url + "other-name.deb"},
                   {"packageSha256", sha256_of(s_releases + "other-name.deb")}});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("3.3.2746.0"), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("the package is"), std::string::npos) << result.err;
}

// Why the download step says onFailure: exit: by default the agent goes on to the next step
// after a failed one (framework/runpluginutil), and so does the simulator.
TEST_F(SsmInstall, StepsAfterAFailedOneRunUnlessItSaysExit) {
    const std::string marker = s_root + "/second-step-ran";
    const std::string document = s_root + "/two-steps.yaml";
    write_file(document,
               "schemaVersion: \"2.2\"\ndescription: two steps\nparameters:\n  onFailure:\n"
               "    type: String\n    default: \"\"\nmainSteps:\n"
               "  - action: aws:runShellScript\n    name: first\n    inputs:\n"
               "      onFailure: \"{{ onFailure }}\"\n      runCommand: [\"exit 3\"]\n"
               "  - action: aws:runShellScript\n    name: second\n    inputs:\n"
               "      runCommand: [\"touch " +
                   marker + "\"]\n",
               0644);
    EXPECT_EQ(send(document, {{"onFailure", "exit"}}).exit_code, 3);
    EXPECT_FALSE(fs::exists(marker));
    EXPECT_EQ(send(document, {}).exit_code, 3); // the control: the default goes on
    EXPECT_TRUE(fs::exists(marker));
}

} // namespace
