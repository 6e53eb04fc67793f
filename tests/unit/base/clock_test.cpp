#include <gtest/gtest.h>

#include "base/clock.hpp"

namespace {

TEST(Timestamp, RoundTrips) {
    fleet::WallTime time;
    ASSERT_TRUE(fleet::parse_timestamp("2026-11-22T03:49:00.123Z", time));
    EXPECT_EQ(fleet::format_timestamp(time), "2026-11-22T03:49:00.123Z");
    EXPECT_EQ(fleet::format_timestamp(fleet::WallTime{}), "1970-01-01T00:00:00.000Z");
    const fleet::WallTime leap = fleet::WallTime(std::chrono::seconds(951782400)); // 2000-02-29
    EXPECT_EQ(fleet::format_timestamp(leap), "2000-02-29T00:00:00.000Z");
}

// Only what format_timestamp writes: a run's files are read back, and an agent could write them.
TEST(Timestamp, RefusesEveryOtherSpelling) {
    const fleet::WallTime before = fleet::WallTime(std::chrono::seconds(42));
    for (const char* bad :
         {"2026-11-22 03:49:00", "2026-11-22T03:49:00Z", "2026-11-22T03:49:00.123",
          "2026-11-22T03:49:00.123Z ", "2026-13-01T00:00:00.000Z", "2026-02-30T00:00:00.000Z",
          "2026-11-22T24:00:00.000Z", "2026-1-22T03:49:00.123Z", "+026-11-22T03:49:00.123Z", ""}) {
        fleet::WallTime time = before;
        EXPECT_FALSE(fleet::parse_timestamp(bad, time)) << bad;
        EXPECT_EQ(time, before) << bad;
    }
    fleet::WallTime time;
    EXPECT_TRUE(fleet::parse_timestamp("2026-02-28T23:59:59.999Z", time)); // the control
}

} // namespace
