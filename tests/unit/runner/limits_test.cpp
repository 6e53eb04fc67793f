#include <gtest/gtest.h>

#include "runner/limits.hpp"

namespace {

using fleet::parse_memory_size;

TEST(ParseMemorySize, BinaryUnitsAndBytes) {
    EXPECT_EQ(*parse_memory_size("67108864"), 67108864U);
    EXPECT_EQ(*parse_memory_size("64M"), uint64_t{64} << 20);
    EXPECT_EQ(*parse_memory_size("64MiB"), uint64_t{64} << 20);
    EXPECT_EQ(*parse_memory_size("64MB"), uint64_t{64} << 20);
    EXPECT_EQ(*parse_memory_size("2G"), uint64_t{2} << 30);
    EXPECT_EQ(*parse_memory_size("1.5GiB"), uint64_t{3} << 29);
    EXPECT_EQ(*parse_memory_size("512k"), uint64_t{512} << 10);
    EXPECT_EQ(*parse_memory_size("1T"), uint64_t{1} << 40);
}

TEST(ParseMemorySize, RefusesWhatIsNoSize) {
    for (const char* text : {"", "2 gigs", "2 G", "G", "-1G", "1.5", "1..5G", "2X", "2Gi",
                             "99999999999999999999T", "0x10"}) {
        const auto parsed = parse_memory_size(text);
        EXPECT_FALSE(parsed.ok()) << text;
        if (!parsed.ok()) {
            EXPECT_NE(parsed.error().message.find(std::string("'") + text + "'"),
                      std::string::npos);
        }
    }
}

TEST(FormatBytes, ReadsLikeTheConfig) {
    EXPECT_EQ(fleet::format_bytes(100), "100 B");
    EXPECT_EQ(fleet::format_bytes(uint64_t{64} << 20), "64 MiB");
    EXPECT_EQ(fleet::format_bytes(uint64_t{3} << 29), "1.5 GiB");
    EXPECT_EQ(fleet::format_bytes(uint64_t{2} << 30), "2 GiB");
}

TEST(LimitReason, NamesTheLimitThatWasHit) {
    fleet::AgentLimits limits;
    limits.limits.memory_max = uint64_t{2} << 30;
    limits.limits.pids_max = 512;
    fleet::AgentResources used;
    EXPECT_EQ(fleet::limit_reason(limits, used), ""); // the control: nothing hit
    used.pids_limit_hits = 3;
    EXPECT_EQ(fleet::limit_reason(limits, used), "process limit (512)");
    used.oom_kills = 1; // memory first: it is what killed
    EXPECT_EQ(fleet::limit_reason(limits, used), "out of memory (limit 2 GiB)");
    EXPECT_EQ(fleet::limit_reason(fleet::AgentLimits{}, used), "out of memory");
}

} // namespace
