#include <gtest/gtest.h>

#include "dispatch/env_file.hpp"

namespace {

TEST(ParseEnvFile, ReadsKeyValueLines) {
    const auto pairs = fleet::parse_env_file(
        "# a comment\n\nA=1\nexport B=\"two words\"\nC='x=y'\r\nD=\nE=$NOT_EXPANDED\n", "f");
    ASSERT_TRUE(pairs.ok()) << pairs.error().message;
    const fleet::EnvPairs expected = {
        {"A", "1"}, {"B", "two words"}, {"C", "x=y"}, {"D", ""}, {"E", "$NOT_EXPANDED"}};
    EXPECT_EQ(*pairs, expected);
}

TEST(ParseEnvFile, BadLinesNameTheLineNotTheValue) {
    const auto pairs = fleet::parse_env_file("A=1\nsecret-value-without-key\n", "/etc/x.env");
    ASSERT_FALSE(pairs.ok());
    EXPECT_EQ(pairs.error().message, "env_file /etc/x.env:2: not a KEY=VALUE line");
    EXPECT_FALSE(fleet::parse_env_file("1BAD=x\n", "f").ok());
}

} // namespace
