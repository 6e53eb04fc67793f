#include <gtest/gtest.h>

#include "dispatch/agents/outcome_text.hpp"

namespace {

TEST(OutcomeText, ShortTextIsTheFirstLineCut) {
    EXPECT_EQ(fleet::short_text("rate limited  \nsecond line"), "rate limited");
    const std::string cut = fleet::short_text(std::string(500, 'x'));
    EXPECT_EQ(cut.size(), 160U);
    EXPECT_EQ(cut.substr(157), "...");
    EXPECT_EQ(fleet::short_text(""), "");
}

TEST(OutcomeText, ApiErrorsAsTheCLIsPrintThem) {
    EXPECT_EQ(fleet::api_error_of("API Error: 401 {\"type\":\"error\"}"), "API error 401");
    EXPECT_EQ(fleet::api_error_of("request failed with status 500"), "API error 500");
    EXPECT_EQ(fleet::api_error_of("Error code: 429 - rate limit"), "API error 429");
    EXPECT_EQ(fleet::api_error_of("HTTP 401 Unauthorized"), "API error 401");
    // Numbers that are no status: a 2xx/3xx code, part of a longer number, no error word near.
    EXPECT_EQ(fleet::api_error_of("status 200"), "");
    EXPECT_EQ(fleet::api_error_of("error 40123"), "");
    EXPECT_EQ(fleet::api_error_of("edited 404 files"), "");
}

TEST(OutcomeText, ReasonFromMessage) {
    EXPECT_EQ(fleet::reason_from_message("API Error: 529 overloaded"), "API error 529");
    EXPECT_EQ(fleet::reason_from_message("Not logged in · Please run /login"), "not logged in");
    EXPECT_EQ(fleet::reason_from_message("context window exceeded\nmore"),
              "context window exceeded");
}

TEST(OutcomeText, NestingIsCountedOutsideStrings) {
    EXPECT_TRUE(fleet::nesting_within(R"({"a":[{"b":1}]})", 3));
    EXPECT_FALSE(fleet::nesting_within(R"({"a":[{"b":1}]})", 2));
    EXPECT_TRUE(fleet::nesting_within(R"({"a":"[[[[[[\"]]]"})", 1)); // brackets in a string
    EXPECT_FALSE(fleet::nesting_within(std::string(100000, '['), 64));
}

TEST(OutcomeText, FieldsByType) {
    const nlohmann::json object = nlohmann::json::parse(
        R"({"n":12,"neg":-1,"frac":1.5,"big":18446744073709551615,"s":"x","not_s":3})");
    EXPECT_EQ(fleet::number_at(object, "n"), 12U);
    EXPECT_EQ(fleet::number_at(object, "big"), 18446744073709551615ULL);
    EXPECT_FALSE(fleet::number_at(object, "neg"));
    EXPECT_FALSE(fleet::number_at(object, "frac"));
    EXPECT_FALSE(fleet::number_at(object, "s"));
    EXPECT_FALSE(fleet::number_at(object, "absent"));
    EXPECT_EQ(fleet::string_at(object, "s"), "x");
    EXPECT_EQ(fleet::string_at(object, "not_s"), "");
    EXPECT_EQ(fleet::string_at(nlohmann::json::array(), "s"), "");
}

// Only lines that are JSON objects, within the depth, reach the visitor; nothing throws.
TEST(OutcomeText, EachJsonLineOfALog) {
    const std::string log = "plain text\n  {\"type\":\"a\"}\r\n[1,2]\n{broken\n" +
                            std::string("{\"deep\":") + std::string(100, '[') +
                            std::string(100, ']') + "}\n{\"type\":\"b\"}";
    std::vector<std::string> types;
    fleet::for_each_json_line(
        log, [&](const nlohmann::json& line) { types.push_back(fleet::string_at(line, "type")); });
    EXPECT_EQ(types, (std::vector<std::string>{"a", "b"}));
}

} // namespace
