#include <set>

#include <gtest/gtest.h>

#include "runner/run_id.hpp"

namespace {

TEST(RunId, HasTheLegacyShapeAndTheUtcTime) {
    fleet::WallTime time;
    ASSERT_TRUE(fleet::parse_timestamp("2026-01-09T19:08:05.000Z", time));
    const auto id = fleet::make_run_id(time);
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(id->substr(0, 16), "20260109-190805-");
    EXPECT_TRUE(fleet::is_valid_run_id(*id)) << *id;
}

TEST(RunId, SuffixesDiffer) {
    std::set<std::string> ids;
    for (int i = 0; i < 1000; ++i) {
        ids.insert(*fleet::make_run_id(std::chrono::system_clock::now()));
    }
    EXPECT_GT(ids.size(), 990U);
}

TEST(RunId, ValidationRefusesAnythingThatIsNotAnId) {
    EXPECT_TRUE(fleet::is_valid_run_id("20260109-190805-dztnfw"));
    for (const char* text : {"", "..", "../etc", "20260109-190805-DZTNFW", "20260109-190805-dztnf",
                             "20260109-190805-dztnfww", "2026010x-190805-dztnfw",
                             "20260109_190805-dztnfw", "20260109-190805-dz/nfw"}) {
        EXPECT_FALSE(fleet::is_valid_run_id(text)) << text;
    }
}

} // namespace
