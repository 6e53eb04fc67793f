// The fixture of the fleet_launch_test suite (fleet_launch_test.cpp,
// fleet_launch_terminal.cpp): throwaway users and groups, a copy of fl-probe every user can run,
// ways to run the built fleet-launch and read what the probe reported. Header-only:
// FLEET_LAUNCH_PATH and FL_PROBE_PATH come from the suite's target.
#pragma once

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <stdlib.h>
#include <string>
#include <sys/stat.h>
#include <vector>

#include <gtest/gtest.h>

#include "support/accounts.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
using fleet::test::Accounts;
using fleet::test::ProcessResult;
using fleet::test::RunOptions;

inline const std::string k_launcher = FLEET_LAUNCH_PATH;

// What fl-probe printed: key=value lines, and the environment as "env:" lines.
struct Probe {
    std::map<std::string, std::string> values;
    std::vector<std::string> env;

    static Probe parse(const std::string& text) {
        Probe probe;
        std::istringstream stream(text);
        for (std::string line; std::getline(stream, line);) {
            if (line.rfind("env:", 0) == 0) {
                probe.env.push_back(line.substr(4));
            } else if (const size_t eq = line.find('='); eq != std::string::npos) {
                probe.values[line.substr(0, eq)] = line.substr(eq + 1);
            }
        }
        std::sort(probe.env.begin(), probe.env.end());
        return probe;
    }
    const std::string& at(const std::string& key) const { return values.at(key); }
};

class FleetLaunch : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        s_accounts = new Accounts();
        for (const char* g : {"g1", "g2", "g3", "g4"}) {
            s_group[g] = Accounts::unique_name(g);
            s_gid[g] = s_accounts->add_group(s_group[g]);
        }
        s_a = Accounts::unique_name("a");
        s_b = Accounts::unique_name("b");
        s_uid_a = s_accounts->add_user(s_a, {s_group["g1"], s_group["g2"], s_group["g3"]});
        // The second user is in every group, so a group taken from the wrong user shows.
        s_uid_b =
            s_accounts->add_user(s_b, {s_group["g1"], s_group["g2"], s_group["g3"], s_group["g4"]});
        s_gid_a = fleet::test::gid_of_group(s_a);
        s_gid_b = fleet::test::gid_of_group(s_b);

        // A copy of fl-probe that every user can run, wherever the build tree lives.
        char pattern[] = "/tmp/fl-launch-test-XXXXXX";
        s_dir = mkdtemp(pattern);
        chmod(s_dir.c_str(), 0755);
        s_probe = s_dir + "/fl-probe";
        fs::copy_file(FL_PROBE_PATH, s_probe);
        chmod(s_probe.c_str(), 0755);
    }
    static void TearDownTestSuite() {
        delete s_accounts;
        fs::remove_all(s_dir);
    }

    static ProcessResult launch(const std::vector<std::string>& args,
                                const RunOptions& options = {}) {
        std::vector<std::string> argv = {k_launcher};
        argv.insert(argv.end(), args.begin(), args.end());
        return fleet::test::run(argv, options);
    }

    // Runs the probe through fleet-launch with `args` before the spec; asserts success.
    static Probe probe_as(const std::vector<std::string>& args, const RunOptions& options = {}) {
        std::vector<std::string> argv = args;
        argv.push_back(s_probe);
        const ProcessResult result = launch(argv, options);
        EXPECT_EQ(result.exit_code, 0) << result.err;
        return Probe::parse(result.out);
    }

    static inline Accounts* s_accounts = nullptr;
    static inline std::map<std::string, std::string> s_group;
    static inline std::map<std::string, gid_t> s_gid;
    static inline std::string s_a, s_b, s_dir, s_probe;
    static inline uid_t s_uid_a = 0, s_uid_b = 0;
    static inline gid_t s_gid_a = 0, s_gid_b = 0;
};
