#include <gtest/gtest.h>

#include "dispatch/placeholders.hpp"

namespace {

TEST(ExpandPlaceholders, SubstitutesIntoOneString) {
    const std::map<std::string, std::string> values = {{"prompt", "$(rm -rf /) \"x\""},
                                                       {"agent", "a"}};
    EXPECT_EQ(*fleet::expand_placeholders("--p={prompt}", values), "--p=$(rm -rf /) \"x\"");
    EXPECT_EQ(*fleet::expand_placeholders("{agent}-{agent}", values), "a-a");
    EXPECT_EQ(*fleet::expand_placeholders("{{literal}}", values), "{literal}");
    EXPECT_EQ(*fleet::expand_placeholders("plain", values), "plain");
}

TEST(ExpandPlaceholders, RefusesUnknownNamesAndBadBraces) {
    const std::map<std::string, std::string> values = {{"prompt", "p"}};
    for (const char* text : {"{nope}", "{prompt", "prompt}", "}{", "{}"}) {
        EXPECT_FALSE(fleet::expand_placeholders(text, values).ok()) << text;
    }
}

TEST(PlaceholderNames, ListsThem) {
    const auto names = fleet::placeholder_names("{a} {{b}} {c}");
    ASSERT_TRUE(names.ok());
    EXPECT_EQ(*names, (std::vector<std::string>{"a", "c"}));
}

} // namespace
