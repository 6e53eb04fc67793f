// The fixture of the diag_test suite (diag_test.cpp, diag_ssh.cpp): a root-owned scratch tree
// with a copy of the built fleet-diag, recording fakes of the tools, allowed and denied files, a
// policy naming them and the audit log setup-diag would make, and ways to run fleet-diag (also
// in a private mount namespace) and read its audit log back. Header-only: FLEET_DIAG_PATH and
// FL_ENOSYS_PATH come from the suite's target.
#pragma once

#include <filesystem>
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

inline const std::string k_diag_build = FLEET_DIAG_PATH;
inline const std::string k_enosys = FL_ENOSYS_PATH;

// A fake tool in the root-only fake/ directory: records argv and environment in record/
// (writable by the diag user too), then behaves as record/mode says.
inline constexpr const char* k_recorder = R"SH(#!/bin/sh
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
            argv.insert(argv.end(), {k_enosys, "openat2"});
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
