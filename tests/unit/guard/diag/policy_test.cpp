#include <algorithm>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "guard/diag/policy.hpp"

namespace fleet {
namespace {

TEST(DiagPolicy, DefaultsAndOverrides) {
    Result<DiagPolicy> defaults = parse_diag_policy("", "/p");
    ASSERT_TRUE(defaults);
    EXPECT_NE(std::find(defaults->deny.begin(), defaults->deny.end(), "/etc/shadow"),
              defaults->deny.end());
    EXPECT_NE(std::find(defaults->deny.begin(), defaults->deny.end(), "/persist/etc/ssh/*_key"),
              defaults->deny.end());
    Result<DiagPolicy> custom = parse_diag_policy(
        "roots = [\"/srv/logs\"]\ndeny = [\"/srv/logs/private\"]\npersist = [\"/nix/persist\"]\n"
        "commands = [\"cat\", \"journalctl\"]\nunits = [\"nginx\"]\nmax_output = 4096\n"
        "timeout = \"5s\"\n[tools]\njournalctl = \"/opt/journalctl\"\n",
        "/p");
    ASSERT_TRUE(custom) << custom.error().message;
    EXPECT_EQ(custom->roots, std::vector<std::string>{"/srv/logs"});
    EXPECT_NE(std::find(custom->deny.begin(), custom->deny.end(), "/nix/persist/srv/logs/private"),
              custom->deny.end());
    EXPECT_EQ(custom->tools.at("journalctl"), "/opt/journalctl");
    EXPECT_EQ(custom->max_output, 4096U);
    for (const char* bad : {"roots = [\"relative\"]", "roots = [\"/a/../b\"]", "deny = [\"/a/\"]",
                            "commands = [\"bash\"]", "max_output = 1", "[tools]\nsh = \"/bin/sh\"",
                            "[tools]\njournalctl = \"journalctl\"", "unknown = 1"}) {
        EXPECT_FALSE(parse_diag_policy(bad, "/p")) << bad;
    }
}

TEST(DiagPolicy, TheShippedExampleIsValidAndMatchesTheDefaults) {
    std::ifstream file(std::string(FLEET_SOURCE_DIR) + "/deploy/etc/diag.toml");
    std::stringstream text;
    text << file.rdbuf();
    Result<DiagPolicy> example = parse_diag_policy(text.str(), "deploy/etc/diag.toml");
    ASSERT_TRUE(example) << example.error().message;
    Result<DiagPolicy> defaults = parse_diag_policy("", "defaults");
    EXPECT_EQ(example->roots, defaults->roots);
    EXPECT_EQ(example->deny, defaults->deny);
    EXPECT_EQ(example->tools, defaults->tools);
    EXPECT_EQ(example->audit_log, defaults->audit_log);
    EXPECT_EQ(example->max_output, defaults->max_output);
}

} // namespace
} // namespace fleet
