// The install_test suite: the timers' units as shipped (deploy/systemd), checked by systemd's
// own `systemd-analyze verify`, which works without systemd as PID 1. It wants the programs a
// unit names to exist, so the units are verified as copies in a scratch directory whose
// ExecStart names the built dispatch instead of /usr/bin/dispatch (not installed here); the
// man pages their Documentation= names are not installed here either (--man=no).
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/files.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using fleet::test::ProcessResult;
using fleet::test::read_file;
using fleet::test::write_file;

namespace {

const std::string k_units = std::string(FLEET_SOURCE_DIR) + "/deploy/systemd";
const char* const k_timer_units[] = {"fleet-dispatch-doctor.service", "fleet-dispatch-doctor.timer",
                                     "fleet-dispatch-prune.service", "fleet-dispatch-prune.timer"};

// `text` with every "ExecStart=/usr/bin/dispatch " naming `dispatch` instead.
std::string naming(std::string text, const std::string& dispatch) {
    const std::string from = "ExecStart=/usr/bin/dispatch ";
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
        text.replace(at, from.size(), "ExecStart=" + dispatch + " ");
        at += from.size();
    }
    return text;
}

// systemd-analyze verify of every file in `dir`; its output (stderr and stdout) must be empty
// for a clean unit: it warns of an unknown key or a bad value and still exits 0.
ProcessResult verify(const std::string& dir) {
    std::vector<std::string> argv{"/usr/bin/systemd-analyze", "verify", "--man=no"};
    for (const auto& entry : fs::directory_iterator(dir)) {
        argv.push_back(entry.path());
    }
    return fleet::test::run(argv);
}

class Units : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::exists("/usr/bin/systemd-analyze")) {
            GTEST_SKIP() << "no systemd-analyze here (package systemd)";
        }
        m_dir = fleet::test::make_root_scratch("units");
    }
    void TearDown() override {
        if (!m_dir.empty()) {
            fs::remove_all(m_dir);
        }
    }

    // The shipped units, copied with ExecStart naming the built dispatch.
    void copy_units() {
        for (const char* unit : k_timer_units) {
            write_file(m_dir + "/" + unit, naming(read_file(k_units + "/" + unit), DISPATCH_PATH),
                       0644);
        }
    }

    std::string m_dir;
};

TEST_F(Units, TheShippedTimersVerifyClean) {
    copy_units();
    const ProcessResult clean = verify(m_dir);
    EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
    EXPECT_EQ(clean.out + clean.err, "");

    // Controls: verify does see a broken unit (a bad value, a program that does not exist), so
    // the clean result above means something.
    std::string broken = read_file(m_dir + "/fleet-dispatch-doctor.timer");
    broken.replace(broken.find("OnCalendar=hourly"), 17, "OnCalendar=hourlyy");
    write_file(m_dir + "/fleet-dispatch-doctor.timer", broken, 0644);
    const ProcessResult bad_value = verify(m_dir);
    EXPECT_NE(bad_value.exit_code, 0) << bad_value.out << bad_value.err;
    EXPECT_NE(bad_value.err.find("hourlyy"), std::string::npos) << bad_value.err;
    copy_units();
    write_file(m_dir + "/fleet-dispatch-prune.service",
               naming(read_file(k_units + "/fleet-dispatch-prune.service"), m_dir + "/none"), 0644);
    const ProcessResult no_program = verify(m_dir);
    EXPECT_NE(no_program.exit_code, 0) << no_program.out << no_program.err;
    EXPECT_NE(no_program.err.find(m_dir + "/none"), std::string::npos) << no_program.err;
}

// What the units run and when: the guardian only reads (doctor --json, never --fix, on a
// read-only file system) and its failure is the unit's (no "-" before the command and no
// SuccessExitStatus, which would hide exit 1); the prune takes its age from the config; both
// timers catch up after downtime.
TEST_F(Units, TheGuardianOnlyReadsAndFailsItsUnit) {
    const std::string doctor = read_file(k_units + "/fleet-dispatch-doctor.service");
    EXPECT_NE(doctor.find("\nType=oneshot\n"), std::string::npos);
    EXPECT_NE(doctor.find("\nExecStart=/usr/bin/dispatch doctor --json\n"), std::string::npos);
    // The only command it runs (its comment may name --fix, to say why not).
    EXPECT_EQ(doctor.find("\nExec"), doctor.find("\nExecStart=/usr/bin/dispatch doctor --json\n"));
    EXPECT_EQ(doctor.find("\nExec", doctor.find("\nExecStart=") + 1), std::string::npos);
    EXPECT_NE(doctor.find("\nSyslogIdentifier=fleet-dispatch-doctor\n"), std::string::npos);
    EXPECT_NE(doctor.find("\nProtectSystem=strict\n"), std::string::npos); // nothing writable
    EXPECT_EQ(doctor.find("ReadWritePaths"), std::string::npos);
    EXPECT_EQ(doctor.find("SuccessExitStatus"), std::string::npos); // exit 1 fails the unit
    const std::string prune = read_file(k_units + "/fleet-dispatch-prune.service");
    EXPECT_NE(prune.find("\nExecStart=/usr/bin/dispatch prune\n"), std::string::npos);
    for (const char* timer : {"fleet-dispatch-doctor.timer", "fleet-dispatch-prune.timer"}) {
        const std::string text = read_file(k_units + "/" + timer);
        EXPECT_NE(text.find("\nPersistent=true\n"), std::string::npos) << timer;
        EXPECT_NE(text.find("\nWantedBy=timers.target\n"), std::string::npos) << timer;
    }
    EXPECT_NE(read_file(k_units + "/fleet-dispatch-doctor.timer").find("\nOnCalendar=hourly\n"),
              std::string::npos);
    EXPECT_NE(read_file(k_units + "/fleet-dispatch-prune.timer").find("\nOnCalendar=daily\n"),
              std::string::npos);
}

} // namespace
