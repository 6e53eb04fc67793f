// run_limits' decisions that need no cgroup: off, not root, required. Making the cgroups, the
// runner's join and the keeper are tested end to end (tests/integration/limits_test.cpp).
#include <gtest/gtest.h>

#include "dispatch/run_limits.hpp"

namespace {

fleet::Config config_with(const std::string& text) {
    auto config = fleet::parse_config(text, "test");
    EXPECT_TRUE(config.ok()) << config.error().message;
    return *config;
}

TEST(RunLimits, OffMakesNothing) {
    const auto setup = fleet::setup_run_limits(config_with("limits = \"off\""), {"claude"}, true);
    ASSERT_TRUE(setup.ok());
    EXPECT_EQ(setup->record.mode, "off");
    EXPECT_FALSE(setup->record.applied);
    EXPECT_TRUE(setup->record.not_applied.empty());
    EXPECT_FALSE(setup->cgroups);
    EXPECT_EQ(setup->oom_score_adj, fleet::k_default_oom_score_adj);
}

TEST(RunLimits, NotRootIsRecordedOrRefusedWhenRequired) {
    const auto setup = fleet::setup_run_limits(config_with(""), {"claude"}, false);
    ASSERT_TRUE(setup.ok());
    EXPECT_EQ(setup->record.mode, "auto");
    EXPECT_FALSE(setup->record.applied);
    EXPECT_EQ(setup->record.not_applied, "not root");
    const auto required =
        fleet::setup_run_limits(config_with("limits = \"required\""), {"claude"}, false);
    ASSERT_FALSE(required.ok());
    EXPECT_EQ(required.error().message,
              "limits = \"required\", but they cannot be applied: not root");
}

TEST(RunLimits, MemTotalIsTheHosts) {
    EXPECT_GT(fleet::mem_total(), uint64_t{64} << 20);
}

} // namespace
