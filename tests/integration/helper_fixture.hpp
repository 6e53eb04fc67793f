// The fixture of the helper_test suite (helper_test.cpp, helper_totp_audit.cpp,
// helper_sudo.cpp): a root-owned scratch tree with a copy of the built fleet-helper, recording
// fakes of systemctl and apt-get, a policy naming them, and ways to run the helper and read its
// answer and audit log back. Header-only: FLEET_HELPER_PATH and FLEET_ADMIN_PATH come from the
// suite's target.
#pragma once

#include <filesystem>
#include <liboath/oath.h>
#include <string>
#include <sys/stat.h>
#include <vector>

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

inline const std::string k_helper_build = FLEET_HELPER_PATH;
// Root's set-up verbs (the sudoers rule, TOTP enrolment) are fleet-admin's.
inline const std::string k_admin = FLEET_ADMIN_PATH;

// A fake systemctl/apt-get: records what it got, then behaves as ./mode says ("slow": a second,
// then a marker, as a systemctl that finishes what it was asked whatever happens to its caller).
// The questions the helper asks first (apt-get -s, systemctl show) are recorded in ./queries
// and answered from ./simulation and ./names (the unit's own name when there is none).
inline constexpr const char* k_recorder = R"(#!/bin/sh
here=$(dirname "$0")
for last; do :; done
case " $* " in
*" -s "*) printf '%s\n' "$0" "$@" >> "$here/queries"; cat "$here/simulation" 2>/dev/null; exit 0 ;;
*" show "*) printf '%s\n' "$0" "$@" >> "$here/queries"; cat "$here/names" 2>/dev/null || echo "$last"; exit 0 ;;
esac
printf '%s\n' "$0" "$@" > "$here/argv"
/usr/bin/env > "$here/env"
pwd > "$here/cwd"
mode=$(cat "$here/mode" 2>/dev/null || echo ok)
case "$mode" in
ok) echo "done: $*" ;;
fail) echo "Failed to restart nginx.service: Unit nginx.service not found." >&2; exit 5 ;;
big) head -c 200000 /dev/zero | tr '\0' 'x' ;;
escape) printf 'red \033[31mtext\033[0m \377\376 bell\007\n' ;;
hang) trap '' TERM; echo $$ > "$here/hang.pid"; sleep 300 & echo $! > "$here/sleep.pid"; wait ;;
slow) echo started > "$here/slow"; sleep 1; echo finished >> "$here/slow" ;;
esac
)";

class Helper : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        ASSERT_EQ(oath_init(), OATH_OK);
        // A request refused before its policy is read is audited in the default log
        // (/var/log/fleet-dispatch/helper.log, made when missing): removed after the suite when
        // the suite made it (the etc-fleet-dispatch lock keeps other suites off it).
        s_made_default_log = !fs::exists(k_default_log_dir);
        s_root = fleet::test::make_root_scratch("helper-test");
        fs::create_directories(s_root + "/bin");
        s_helper = s_root + "/bin/fleet-helper";
        fs::copy_file(k_helper_build, s_helper);
        chmod(s_helper.c_str(), 0755);
        fs::create_directories(s_root + "/fake");
        write_file(s_root + "/fake/systemctl", k_recorder, 0755);
        write_file(s_root + "/fake/apt-get", k_recorder, 0755);
    }

    static void TearDownTestSuite() {
        fs::remove_all(s_root);
        if (s_made_default_log) {
            fs::remove_all(k_default_log_dir);
        }
    }
    static constexpr const char* k_default_log_dir = "/var/log/fleet-dispatch";
    static inline bool s_made_default_log = false;

    void SetUp() override {
        for (const char* name : {"argv", "mode", "queries", "simulation", "names"}) {
            fs::remove(fake(name));
        }
        s_policy = s_root + "/helper.toml";
        write_policy("");
    }

    static std::string fake(const std::string& name) { return s_root + "/fake/" + name; }

    static std::string policy_text(const std::string& extra) {
        return "systemctl = \"" + fake("systemctl") + "\"\napt_get = \"" + fake("apt-get") +
               "\"\naudit_log = \"" + s_root + "/log/helper.log\"\n" + extra +
               "[services]\nnginx = [\"status\", \"start\", \"stop\", \"restart\", \"reload\", "
               "\"enable\", \"disable\"]\nssh = [\"status\", \"restart\", \"stop\"]\n"
               "[packages]\nhtop = [\"install\", \"remove\"]\nsudo = [\"install\", \"remove\"]\n"
               "[apt]\nactions = [\"update\", \"upgrade\"]\n"
               "[totp]\nsecret = \"" +
               s_root + "/secrets/totp\"\nstate = \"" + s_root +
               "/state/totp.json\"\nservice = [\"stop\"]\npackage = [\"upgrade\"]\n";
    }

    static void write_policy(const std::string& extra) {
        write_file(s_policy, policy_text(extra), 0644);
    }

    static ProcessResult helper(std::vector<std::string> args, const RunOptions& options = {}) {
        args.insert(args.begin(), {s_helper, "--policy", s_policy});
        return fleet::test::run(args, options);
    }

    static json answer(const ProcessResult& result) {
        const std::vector<std::string> lines = lines_of(result.out);
        EXPECT_EQ(lines.size(), 1U) << result.out << result.err;
        return lines.empty() ? json() : json::parse(lines[0]);
    }

    // The audit file's records: each request's "end" record, or with `all` every record ("start"
    // ones too: written before an action runs).
    static std::vector<json> audit_lines(bool all = false) {
        std::vector<json> lines;
        for (const std::string& line : lines_of(read_file(s_root + "/log/helper.log"))) {
            const json record = json::parse(line);
            if (all || record["phase"] == "end") {
                lines.push_back(record);
            }
        }
        return lines;
    }

    static std::vector<std::string> recorded_argv() { return lines_of(read_file(fake("argv"))); }

    static ProcessResult admin_enroll(bool force) {
        std::vector<std::string> argv{k_admin, "totp", "enroll", "--policy", s_policy};
        if (force) {
            argv.emplace_back("--force");
        }
        return fleet::test::run(argv);
    }

    // The code an authenticator shows at `when` for the base32 `secret` (liboath).
    static std::string totp_now(const std::string& base32, time_t when) {
        char* secret = nullptr;
        size_t length = 0;
        EXPECT_EQ(oath_base32_decode(base32.data(), base32.size(), &secret, &length), OATH_OK);
        char code[8] = {};
        EXPECT_EQ(oath_totp_generate(secret, length, when, 30, 0, 6, code), OATH_OK);
        free(secret);
        return code;
    }

    static std::string enroll() {
        const ProcessResult result = admin_enroll(true);
        EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
        const size_t at = result.out.find("secret=");
        return result.out.substr(at + 7, result.out.find('&', at) - at - 7);
    }

    static inline std::string s_root;
    static inline std::string s_helper;
    static inline std::string s_policy;
};
