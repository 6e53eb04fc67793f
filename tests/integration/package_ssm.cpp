// The Debian package installed and upgraded through the SSM document
// deploy/ssm/FleetDispatch-Install.yaml, as root on this machine: the .deb in a local S3
// stand-in, the document run by tests/ssm/ssm-agent-sim (aws:downloadContent, then apt-get with
// stdin /dev/null and no terminal). Part of package_test (the package_build fixture's .deb, its
// lock on the host's dpkg and /etc); skipped when fleet-dispatch is installed here already.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "integration/package_deb.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using fleet::test::ProcessResult;
using fleet::test::read_file;
using fleet::test::RunOptions;
using fleet::test::write_file;

namespace {

const std::string k_source = FLEET_SOURCE_DIR;
const std::string k_config = "/etc/fleet-dispatch/config.toml";

// "install ok installed VERSION", or empty when dpkg does not know fleet-dispatch.
std::string dpkg_state() {
    return fleet::test::run(
               {"/usr/bin/dpkg-query", "-W", "-f=${Status} ${Version}", "fleet-dispatch"})
        .out;
}

class PackageThroughSsm : public ::testing::Test {
protected:
    void SetUp() override {
        if (!dpkg_state().empty() || fs::exists("/etc/fleet-dispatch") ||
            fs::exists("/usr/bin/dispatch") || fs::exists("/var/lib/fleet-dispatch") ||
            fs::exists("/var/log/fleet-dispatch")) {
            GTEST_SKIP() << "fleet-dispatch is installed on this host already";
        }
        m_root = fleet::test::make_root_scratch("package-ssm");
        m_ran = true;
        const std::string releases = m_root + "/s3/fleet-artifacts/releases/";
        fs::create_directories(releases);
        m_current = fs::path(deb_path()).filename();
        ASSERT_FALSE(m_current.empty()) << "no .deb in " << k_package_dir;
        fs::copy_file(deb_path(), releases + m_current);
        m_previous = "fleet-dispatch_0.1.0_previous.deb";
        fleet::test::run_ok(
            {k_source + "/tests/support/make-previous-deb", deb_path(), releases + m_previous});
    }

    void TearDown() override {
        if (!m_ran) {
            return;
        }
        RunOptions options;
        options.env = std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                               "DEBIAN_FRONTEND=noninteractive"};
        fleet::test::run({"/usr/bin/apt-get", "purge", "-y", "-qq", "fleet-dispatch"}, options);
        for (const char* path :
             {"/etc/fleet-dispatch", "/var/lib/fleet-dispatch", "/var/log/fleet-dispatch"}) {
            fs::remove_all(path);
        }
        fs::remove_all(m_root);
    }

    // The document for the object `name` of the stand-in, checked against that file's sha256.
    ProcessResult send(const std::string& name, const std::string& action) {
        const std::string file = m_root + "/s3/fleet-artifacts/releases/" + name;
        std::string key = name;
        for (size_t at = 0; (at = key.find('+', at)) != std::string::npos;) {
            key.replace(at, 1, "%2B"); // the package's version has a '+'; to S3 it is a space
        }
        RunOptions options;
        options.env = std::vector<std::string>{}; // the simulator builds SSM's environment
        options.timeout_seconds = 600;
        return fleet::test::run(
            {k_source + "/tests/ssm/ssm-agent-sim",
             k_source + "/deploy/ssm/FleetDispatch-Install.yaml", "--cwd", m_root, "--work",
             m_root + "/orchestration", "--s3-root", m_root + "/s3", "--param",
             "packageUrl=https://fleet-artifacts.s3.eu-central-1.amazonaws.com/releases/" + key,
             "--param",
             "packageSha256=" + fleet::test::run_ok({"/usr/bin/sha256sum", file}).substr(0, 64),
             "--param", "action=" + action},
            options);
    }

    bool download_left() const {
        for (const auto& entry : fs::recursive_directory_iterator(m_root + "/orchestration")) {
            if (entry.path().filename() == "fleet-dispatch.deb") {
                return true;
            }
        }
        return false;
    }

    bool m_ran = false;
    std::string m_root, m_current, m_previous;
};

// From nothing to the previous release, to this one over a config.toml the operator edited (dpkg
// would ask; the document keeps it), again (nothing to do), and back (refused).
TEST_F(PackageThroughSsm, InstallsAndUpgradesWithoutAPrompt) {
    ProcessResult result = send(m_previous, "upgrade");
    EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
    EXPECT_NE(result.err.find("fleet-dispatch is not installed here"), std::string::npos)
        << result.err;
    EXPECT_EQ(dpkg_state(), "");

    result = send(m_previous, "install"); // the control
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_EQ(dpkg_state(), "install ok installed 0.1.0");
    EXPECT_NE(result.out.find("\nfleet-dispatch\t0.1.0\ndispatch "), std::string::npos)
        << result.out;

    const std::string edited = read_file(k_config) + "# the operator's own line\n";
    write_file(k_config, edited, 0644);
    result = send(m_current, "upgrade");
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_EQ(dpkg_state(), std::string("install ok installed ") + PACKAGE_VERSION);
    const std::string version = fleet::test::run_ok({"/usr/bin/dispatch", "--version"});
    EXPECT_NE(result.out.find(std::string("\nfleet-dispatch\t") + PACKAGE_VERSION + "\n" + version),
              std::string::npos)
        << result.out;
    EXPECT_EQ(read_file(k_config), edited);
    EXPECT_EQ(read_file(k_config + ".dpkg-dist"), read_file(k_source + "/deploy/etc/config.toml"));

    result = send(m_current, "install");
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_NE(
        result.out.find(std::string("fleet-dispatch ") + PACKAGE_VERSION + " is installed already"),
        std::string::npos)
        << result.out;

    result = send(m_previous, "install");
    EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
    EXPECT_NE(result.err.find(std::string("0.1.0 is older than the installed ") + PACKAGE_VERSION),
              std::string::npos)
        << result.err;
    EXPECT_EQ(dpkg_state(), std::string("install ok installed ") + PACKAGE_VERSION);
    EXPECT_FALSE(download_left());
}

} // namespace
