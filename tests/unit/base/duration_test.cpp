#include <gtest/gtest.h>

#include "base/duration.hpp"

namespace {

using namespace std::chrono_literals;

TEST(ParseDuration, ReadsOperatorSpellings) {
    EXPECT_EQ(*fleet::parse_duration("90s"), 90s);
    EXPECT_EQ(*fleet::parse_duration("30m"), 30min);
    EXPECT_EQ(*fleet::parse_duration("2h"), 2h);
    EXPECT_EQ(*fleet::parse_duration("1h30m"), 90min);
    EXPECT_EQ(*fleet::parse_duration("500ms"), 500ms);
    EXPECT_EQ(*fleet::parse_duration("1d"), 24h);
    EXPECT_EQ(*fleet::parse_duration("1m30s250ms"), 90250ms);
}

TEST(ParseDuration, RefusesEverythingElse) {
    for (const char* text : {"", "0s", "10", "s", "5x", "1h1h", "30s1m", "-5s", "1.5h", " 5s",
                             "5s ", "366d", "99999999999999999999s", "5S"}) {
        EXPECT_FALSE(fleet::parse_duration(text).ok()) << "'" << text << "'";
    }
}

TEST(FormatDuration, IsTheShortestSpellingThatReadsBack) {
    for (const auto duration : {fleet::Duration(90s), fleet::Duration(90min), fleet::Duration(1ms),
                                fleet::Duration(26h + 1s)}) {
        const std::string text = fleet::format_duration(duration);
        EXPECT_EQ(*fleet::parse_duration(text), duration) << text;
    }
    EXPECT_EQ(fleet::format_duration(90min), "1h30m");
}

} // namespace
