// Operating runs (operate_test suite): dispatch doctor's checks and --fix on a real user.
#include <algorithm>
#include <climits>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "integration/operate_fixture.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

TEST_F(Operate, DoctorFindsAndFixesRootOwnedFilesWithoutFollowingSymlinks) {
    ASSERT_EQ(dispatch({"-a", "quick", "run", "x"}).exit_code, 0);
    const ProcessResult clean = dispatch({"doctor"});
    EXPECT_NE(clean.out.find("ok   ownership"), std::string::npos) << clean.out; // control

    // What an old script running as root left behind, and a symlink the user planted.
    const std::string planted = s_runs + "/index.json";
    write_file(planted, "{}", 0644);
    fs::create_symlink("/etc/hostname", s_runs + "/trap");
    const ProcessResult found = dispatch({"doctor"});
    EXPECT_EQ(found.exit_code, 1) << found.out;
    EXPECT_NE(found.out.find("fail ownership"), std::string::npos) << found.out;
    EXPECT_NE(found.out.find("index.json"), std::string::npos) << found.out;

    const ProcessResult fixed = dispatch({"doctor", "--fix"});
    EXPECT_EQ(fixed.exit_code, 0) << fixed.out;
    struct stat info {};
    ASSERT_EQ(lstat(planted.c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, s_uid);
    ASSERT_EQ(stat("/etc/hostname", &info), 0);
    EXPECT_EQ(info.st_uid, 0U) << "the fix followed the planted symlink";
    EXPECT_EQ(dispatch({"doctor"}).exit_code, 0);
    fs::remove(planted);
    fs::remove(s_runs + "/trap");
}

// The user can hard-link any file it may read and write into its own tree (with
// fs.protected_hardlinks=0, any file at all): root's chown through that name would hand the
// other name's file to the user.
TEST_F(Operate, DoctorFixNeverChownsThroughAHardLink) {
    const std::string home = "/home/" + s_user;
    const std::string scratch = fleet::test::make_root_scratch("doctor");
    const std::string victim = scratch + "/victim";
    write_file(victim, "root's\n", 0666);
    ASSERT_EQ(chmod(victim.c_str(), 0666), 0);
    fleet::test::run_ok({"runuser", "-u", s_user, "--", "mkdir", "-p", home + "/.claude"});
    fleet::test::run_ok({"runuser", "-u", s_user, "--", "ln", victim, home + "/.claude/linked"});
    // Control: a root-owned file with one name is the user's after the fix.
    const std::string single = home + "/.claude/left-by-root";
    write_file(single, "{}", 0644);

    const ProcessResult fixed = dispatch({"doctor", "--fix"});
    struct stat info {};
    ASSERT_EQ(stat(victim.c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, 0U) << "doctor --fix chowned through a hard link\n" << fixed.out;
    EXPECT_EQ(fixed.exit_code, 1) << fixed.out;
    EXPECT_NE(fixed.out.find("hard links"), std::string::npos) << fixed.out;
    ASSERT_EQ(stat(single.c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, s_uid) << fixed.out;

    fs::remove(home + "/.claude/linked");
    fs::remove_all(scratch);
    EXPECT_EQ(dispatch({"doctor", "--fix"}).exit_code, 0);
    fs::remove_all(home + "/.claude");
}

// doctor runs as root; the agents' PATH starts in the user's home (~/.local/bin), so whatever
// it finds there must run as the user, never as root.
TEST_F(Operate, DoctorAsksAgentsForTheirVersionAsTheUser) {
    const std::string home = "/home/" + s_user;
    const std::string bin = home + "/.local/bin";
    const std::string report = home + "/claude-probe.txt";
    fleet::test::run_ok({"runuser", "-u", s_user, "--", "mkdir", "-p", bin});
    fleet::test::run_ok(
        {"runuser", "-u", s_user, "--", "/bin/sh", "-c",
         "printf '%s\\n' '#!/bin/sh' '{ id -u; pwd; grep NoNewPrivs /proc/self/status; } > \"$HOME/"
         "claude-probe.txt\"' 'echo planted claude 9.9' > " +
             bin + "/claude && chmod 0755 " + bin + "/claude"});
    const ProcessResult doctor = dispatch({"doctor"});
    const std::vector<std::string> seen = fleet::test::lines_of(read_file(report));
    fs::remove_all(home + "/.local");
    fs::remove(report);
    EXPECT_NE(doctor.out.find("planted claude 9.9"), std::string::npos) << doctor.out; // it ran
    ASSERT_EQ(seen.size(), 3U) << doctor.out;
    EXPECT_EQ(seen[0], std::to_string(s_uid)) << "the probe ran as uid " << seen[0];
    EXPECT_EQ(seen[1], home);
    EXPECT_EQ(seen[2], "NoNewPrivs:\t1");
}

TEST_F(Operate, DoctorWarnsWhenTheUserCanSudoToRoot) {
    const std::string rule = "/etc/sudoers.d/" + s_user;
    write_file(rule, s_user + " ALL=(ALL) NOPASSWD: ALL\n", 0440);
    const std::string without_nnp = s_dir + "/no-nnp.toml";
    write_file(without_nnp, "user = \"" + s_user + "\"\nno_new_privs = false\n", 0644);
    const ProcessResult warned = fleet::test::run({k_dispatch, "-c", without_nnp, "doctor"});
    const ProcessResult blocked = dispatch({"doctor"}); // no_new_privs defaults to true
    fs::remove(rule);
    EXPECT_NE(warned.out.find("warn sudo"), std::string::npos) << warned.out;
    EXPECT_NE(warned.out.find("without a password"), std::string::npos) << warned.out;
    EXPECT_NE(blocked.out.find("ok   sudo"), std::string::npos) << blocked.out;
    EXPECT_NE(blocked.out.find("no_new_privs blocks"), std::string::npos) << blocked.out;
    // Control: without the rule there is nothing to warn about.
    const ProcessResult plain = fleet::test::run({k_dispatch, "-c", without_nnp, "doctor"});
    EXPECT_NE(plain.out.find("no sudo rights"), std::string::npos) << plain.out;
}

TEST_F(Operate, DoctorChecksTheSsmAgentRestartsAlways) {
    const std::string unit = "/etc/systemd/system/amazon-ssm-agent.service";
    for (const char* real : {"/etc/systemd/system/amazon-ssm-agent.service",
                             "/lib/systemd/system/amazon-ssm-agent.service",
                             "/usr/lib/systemd/system/amazon-ssm-agent.service",
                             "/etc/systemd/system/amazon-ssm-agent.service.d"}) {
        if (fs::exists(real)) {
            GTEST_SKIP() << "this host has a real SSM agent unit; not touching it";
        }
    }
    fs::create_directories("/etc/systemd/system/amazon-ssm-agent.service.d");
    write_file(unit,
               "[Service]\nType=simple\nRestart=on-failure\nRestartSec=90\n"
               "OOMScoreAdjust=-900\n",
               0644);
    const ProcessResult broken = dispatch({"doctor"});
    write_file(unit + ".d/restart.conf", "[Service]\nRestart=always\nRestartSec=10s\n", 0644);
    const ProcessResult repaired = dispatch({"doctor"});
    write_file(unit + ".d/oom.conf", "[Service]\nOOMScoreAdjust=800\n", 0644);
    const ProcessResult above = dispatch({"doctor"});
    fs::remove_all(unit + ".d");
    fs::remove(unit);
    EXPECT_EQ(broken.exit_code, 1);
    EXPECT_NE(broken.out.find("fail ssm-agent"), std::string::npos) << broken.out;
    EXPECT_NE(broken.out.find("Restart=on-failure"), std::string::npos) << broken.out;
    EXPECT_NE(repaired.out.find("ok   ssm-agent"), std::string::npos) << repaired.out;
    // Its OOM score, which every agent would inherit, beside what the agents get.
    EXPECT_NE(repaired.out.find("ok   oom score     amazon-ssm-agent.service has "
                                "OOMScoreAdjust=-900, which what it starts inherits; agents get "
                                "500"),
              std::string::npos)
        << repaired.out;
    EXPECT_NE(above.out.find("warn oom score     amazon-ssm-agent.service has OOMScoreAdjust=800"),
              std::string::npos)
        << above.out;
    // Control: no unit at all is fine (not every host runs SSM).
    EXPECT_NE(dispatch({"doctor"}).out.find("no amazon-ssm-agent unit"), std::string::npos);
}

// `doctor --json`, the guardian's command line: the same checks as the text, in the same order,
// with the same levels, as one JSON line; exit 0 with ok true when nothing fails.
TEST_F(Operate, DoctorJsonHasTheSameChecksAsTheText) {
    const ProcessResult text = dispatch({"doctor"});
    const ProcessResult as_json = dispatch({"doctor", "--json"});
    EXPECT_EQ(as_json.exit_code, text.exit_code) << text.out << as_json.out;
    ASSERT_EQ(std::count(as_json.out.begin(), as_json.out.end(), '\n'), 1) << as_json.out;
    const json document = json::parse(as_json.out);
    EXPECT_EQ(document["ok"], text.exit_code == 0);
    EXPECT_EQ("dispatch " + document["version"].get<std::string>() + "\n",
              fleet::test::run_ok({k_dispatch, "--version"}));
    char host[HOST_NAME_MAX + 1] = {};
    ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
    EXPECT_EQ(document["host"], host);
    const std::vector<std::string> lines = fleet::test::lines_of(text.out);
    ASSERT_EQ(document["checks"].size(), lines.size()) << text.out << as_json.out;
    for (size_t i = 0; i < lines.size(); ++i) {
        const json& check = document["checks"][i];
        const std::string level = check["level"];
        const std::string name = check["check"];
        const std::string prefix = level + std::string(5 - level.size(), ' ') + name;
        EXPECT_EQ(lines[i].rfind(prefix + " ", 0), 0U) << lines[i] << " | " << check.dump();
        // The text escapes what is not printable ASCII; the JSON keeps it (JSON-escaped).
        const std::string message = check["message"];
        if (std::all_of(message.begin(), message.end(),
                        [](char c) { return c >= 0x20 && c < 0x7f; })) {
            EXPECT_NE(lines[i].find(message), std::string::npos) << lines[i] << " | " << message;
        }
        EXPECT_EQ(check["fix"].is_null(), lines[i].find("; fix: ") == std::string::npos)
            << lines[i];
    }
}

// A failed check: exit 1 (the unit fails) and ok false; what the host holds, here a file name
// that is no UTF-8 and carries an escape sequence, stays valid JSON of ASCII only.
TEST_F(Operate, DoctorJsonFailsWhenACheckFails) {
    ASSERT_EQ(dispatch({"-a", "quick", "run", "x"}).exit_code, 0);
    const ProcessResult clean = dispatch({"doctor", "--json"});
    const json before = json::parse(clean.out);
    const auto ownership = [](const json& document) {
        for (const json& check : document["checks"]) {
            if (check["check"] == "ownership") {
                return check;
            }
        }
        return json();
    };
    EXPECT_EQ(ownership(before)["level"], "ok") << clean.out; // control

    const std::string planted = s_runs + "/index\xff\x1b[2J.json"; // root's, as an old script left
    write_file(planted, "{}", 0644);
    const ProcessResult found = dispatch({"doctor", "--json"});
    fs::remove(planted);
    EXPECT_EQ(found.exit_code, 1) << found.out;
    for (const char c : found.out) {
        ASSERT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << found.out;
    }
    const json after = json::parse(found.out);
    EXPECT_EQ(after["ok"], false);
    const json check = ownership(after);
    EXPECT_EQ(check["level"], "fail") << found.out;
    EXPECT_EQ(check["fix"], "dispatch doctor --fix");
    EXPECT_NE(check["message"].get<std::string>().find("index\xef\xbf\xbd\x1b[2J.json"),
              std::string::npos)
        << found.out;
    EXPECT_EQ(dispatch({"doctor", "--json"}).exit_code, clean.exit_code); // gone, as before
}

// --json is the guardian's read-only mode: with --fix it is refused before anything is done.
TEST_F(Operate, DoctorJsonRefusesToFix) {
    const std::string planted = s_runs + "/left-by-root.json";
    write_file(planted, "{}", 0644);
    const ProcessResult refused = dispatch({"doctor", "--json", "--fix"});
    EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
    EXPECT_EQ(refused.out, "");
    EXPECT_EQ(refused.err, "dispatch: doctor --json is read-only: not with --fix\n");
    struct stat info {};
    ASSERT_EQ(stat(planted.c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, 0U) << "a refused --fix chowned";
    // Control: --fix alone repairs it.
    EXPECT_EQ(dispatch({"doctor", "--fix"}).exit_code, 0);
    ASSERT_EQ(stat(planted.c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, s_uid);
    fs::remove(planted);
}

TEST_F(Operate, DoctorReportsTheCgroupsARunGets) {
    const ProcessResult result = dispatch({"doctor"});
    if (!fs::exists("/sys/fs/cgroup/cgroup.controllers") &&
        !fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes")) {
        GTEST_SKIP() << "no cgroups on this host";
    }
    EXPECT_NE(result.out.find("ok   systemd       not PID 1"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("ok   cgroups       "), std::string::npos) << result.out;
    EXPECT_NE(result.out.find(": each run gets its limits (memory_max "), std::string::npos)
        << result.out;
    // The probe's cgroups are gone: only runs leave theirs, and only while they run.
    const std::string off = s_dir + "/limits-off.toml";
    write_file(off, "user = \"" + s_user + "\"\nlimits = \"off\"\n", 0644);
    const ProcessResult without = fleet::test::run({k_dispatch, "-c", off, "doctor"});
    EXPECT_NE(without.out.find("warn limits        off: agents have no memory"), std::string::npos)
        << without.out;
    EXPECT_EQ(without.out.find("ok   cgroups"), std::string::npos) << without.out;
}

} // namespace
