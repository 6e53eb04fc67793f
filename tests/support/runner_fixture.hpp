// The fixture of the suites that run the built dispatch as root: a throwaway user, its runs
// directory, a 0755 scratch directory for configs and fake agents, and ways to run dispatch
// and read a run back. Header-only: DISPATCH_PATH comes from the suite's own target.
#pragma once

#include <filesystem>
#include <stdlib.h>
#include <string>
#include <sys/stat.h>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/accounts.hpp"
#include "support/process.hpp"

namespace fleet::test {

class RunnerFixture : public ::testing::Test {
protected:
    // Creates the user (named after `suffix`) and /tmp/fl-<name>-test-XXXXXX; s_config is the
    // scratch directory's config.toml, which the suite writes.
    static void set_up_runner(const std::string& suffix, const std::string& name) {
        s_accounts = new Accounts();
        s_user = Accounts::unique_name(suffix);
        s_uid = s_accounts->add_user(s_user);
        s_runs = "/home/" + s_user + "/.local/state/fleet-dispatch/runs";
        std::string pattern = "/tmp/fl-" + name + "-test-XXXXXX";
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        s_dir = pattern;
        ASSERT_EQ(chmod(s_dir.c_str(), 0755), 0);
        s_config = s_dir + "/config.toml";
    }

    static void TearDownTestSuite() {
        delete s_accounts;
        s_accounts = nullptr;
        std::filesystem::remove_all(s_dir);
    }

    // dispatch -c CONFIG ARGS..., CONFIG being s_config unless given.
    static ProcessResult dispatch(const std::vector<std::string>& args,
                                  const RunOptions& options = {}, const std::string& config = "") {
        std::vector<std::string> argv = {DISPATCH_PATH, "-c", config.empty() ? s_config : config};
        argv.insert(argv.end(), args.begin(), args.end());
        return run(argv, options);
    }

    static nlohmann::json status_json(const std::string& run_id, const std::string& config = "") {
        const ProcessResult result = dispatch({"status", run_id, "--json"}, {}, config);
        EXPECT_EQ(result.exit_code, 0) << result.err;
        return nlohmann::json::parse(result.out);
    }

    static std::string run_dir(const std::string& run_id) { return s_runs + "/" + run_id; }

    // The entry of `status` (status.json) for agent `name`; a failure when there is none.
    static nlohmann::json agent_of(const nlohmann::json& status, const std::string& name) {
        for (const nlohmann::json& agent : status.at("agents")) {
            if (agent.at("name") == name) {
                return agent;
            }
        }
        ADD_FAILURE() << "no agent " << name;
        return nlohmann::json::object();
    }

    static inline Accounts* s_accounts = nullptr;
    static inline std::string s_user, s_runs, s_dir, s_config;
    static inline uid_t s_uid = 0;
};

} // namespace fleet::test
