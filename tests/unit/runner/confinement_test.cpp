#include <gtest/gtest.h>

#include "runner/confinement.hpp"

namespace {

using fleet::AgentAccess;
using fleet::ConfineMode;

TEST(AssessConfinement, NamesWhatTheKernelLacks) {
    AgentAccess access;
    EXPECT_EQ(fleet::assess_confinement(access, 7).level, fleet::ConfinementLevel::full);
    EXPECT_EQ(fleet::assess_confinement(access, 6).level, fleet::ConfinementLevel::full);
    const fleet::Confinement ubuntu_2404 = fleet::assess_confinement(access, 4);
    EXPECT_EQ(ubuntu_2404.level, fleet::ConfinementLevel::partial);
    EXPECT_EQ(ubuntu_2404.lacking, "signal and abstract socket scoping (Landlock ABI 6)");
    const fleet::Confinement ubuntu_2204 = fleet::assess_confinement(access, 1);
    EXPECT_NE(ubuntu_2204.lacking.find("truncate by name (Landlock ABI 3)"), std::string::npos);
    const fleet::Confinement none = fleet::assess_confinement(access, 0);
    EXPECT_EQ(none.level, fleet::ConfinementLevel::none);
    EXPECT_EQ(none.lacking, "the kernel has no Landlock");
    // TCP port rules count only when the agent has some.
    access.tcp_connect = {443};
    EXPECT_EQ(fleet::assess_confinement(access, 6).level, fleet::ConfinementLevel::full);
    EXPECT_NE(fleet::assess_confinement(access, 3).lacking.find("TCP port rules"),
              std::string::npos);
    access.mode = ConfineMode::off;
    EXPECT_EQ(fleet::assess_confinement(access, 7).level, fleet::ConfinementLevel::off);
    EXPECT_EQ(fleet::assess_confinement(access, 7).landlock_abi, 7);
}

TEST(PrepareConfinement, MissingRequiredPathsAreErrorsSystemOnesAreNot) {
    if (fleet::landlock_abi() == 0) {
        GTEST_SKIP() << "this kernel has no Landlock";
    }
    AgentAccess access;
    access.system = {"/usr", "/no-such-system-dir"};
    access.write = {"/tmp"};
    fleet::Result<fleet::PreparedConfinement> prepared =
        fleet::prepare_confinement(access, fleet::landlock_abi());
    ASSERT_TRUE(prepared) << prepared.error().message;
    EXPECT_TRUE(prepared->ruleset.has_value());
    access.write.push_back("/no-such-work-dir");
    prepared = fleet::prepare_confinement(access, fleet::landlock_abi());
    ASSERT_FALSE(prepared);
    EXPECT_NE(prepared.error().message.find("/no-such-work-dir"), std::string::npos);
    // Off and none build nothing.
    access.mode = ConfineMode::off;
    prepared = fleet::prepare_confinement(access, fleet::landlock_abi());
    ASSERT_TRUE(prepared);
    EXPECT_FALSE(prepared->ruleset.has_value());
    EXPECT_FALSE(fleet::prepare_confinement(AgentAccess{}, 0)->ruleset.has_value());
}

TEST(ConfinementLevel, NamesRoundTripAndUnknownIsOff) {
    for (const auto level : {fleet::ConfinementLevel::off, fleet::ConfinementLevel::none,
                             fleet::ConfinementLevel::partial, fleet::ConfinementLevel::full}) {
        EXPECT_EQ(fleet::confinement_level(fleet::to_string(level)), level);
    }
    EXPECT_EQ(fleet::confinement_level("weird"), fleet::ConfinementLevel::off);
}

TEST(ConfineMode, NamesAreTheConfigsWords) {
    EXPECT_STREQ(fleet::to_string(ConfineMode::best_effort), "auto");
    EXPECT_STREQ(fleet::to_string(ConfineMode::required), "required");
    EXPECT_STREQ(fleet::to_string(ConfineMode::off), "off");
}

} // namespace
