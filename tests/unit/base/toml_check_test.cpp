#include <gtest/gtest.h>

#include "base/toml_check.hpp"

namespace {

toml::table parse(std::string_view text) {
    fleet::Result<toml::table> table = fleet::parse_toml(text, "config /t.toml");
    EXPECT_TRUE(table) << (table ? "" : table.error().message);
    return table ? *table : toml::table{};
}

TEST(TomlCheck, ParseErrorsNameTheLineAndColumn) {
    const fleet::Result<toml::table> bad = fleet::parse_toml("a = 1\nb = \n", "config /t.toml");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().kind, fleet::ErrorKind::invalid_input);
    EXPECT_EQ(bad.error().message.rfind("config /t.toml:2:", 0), 0U) << bad.error().message;
}

// What dispatch writes into TOML stays one string: it can neither end it nor add a key.
TEST(TomlCheck, QuotedTextParsesBackToItself) {
    for (const std::string& text :
         {std::string("plain"), std::string("a \"quoted\" \\ path"),
          std::string("line\nbreak\r\ttab"), std::string("x\"\nevil = true\n#"),
          std::string("\x01\x7f caf\xc3\xa9")}) {
        const toml::table table = parse("key = " + fleet::toml_quote(text) + "\n");
        EXPECT_EQ(table.size(), 1U) << text;
        EXPECT_EQ(table["key"].value<std::string>(), text);
    }
}

TEST(TomlCheck, GettersTakeTheirTypeAndLeaveWhatIsAbsent) {
    const toml::table table =
        parse("name = \"n\"\ntimeout = \"1h30m\"\nlist = [\"a\", \"b\"]\n[sub]\nx = 1\n");
    fleet::TomlChecker check("config /t.toml");
    std::string name = "unchanged", missing = "unchanged";
    fleet::Duration timeout{0};
    std::vector<std::string> list;
    check.only_keys(table, "", {"name", "timeout", "list", "sub"});
    check.string(table, "name", "name", name);
    check.string(table, "absent", "absent", missing);
    check.duration(table, "timeout", "timeout", timeout);
    check.string_list(table, "list", "list", list);
    EXPECT_FALSE(check.failed());
    EXPECT_EQ(name, "n");
    EXPECT_EQ(missing, "unchanged");
    EXPECT_EQ(timeout, std::chrono::minutes(90));
    EXPECT_EQ(list, (std::vector<std::string>{"a", "b"}));
}

// The first problem is the one reported, with the document and the key path.
TEST(TomlCheck, TheFirstProblemIsReported) {
    const toml::table table =
        parse("name = 3\ntimeout = \"soon\"\nlist = [\"a\", 2]\n[sub]\nx = 1\ny = 2\n");
    const auto first_error = [&](auto&& check_one) {
        fleet::TomlChecker check("config /t.toml");
        check_one(check);
        EXPECT_TRUE(check.failed());
        return check.error().message;
    };
    std::string text;
    fleet::Duration duration{0};
    std::vector<std::string> list;
    EXPECT_EQ(first_error([&](auto& c) { c.string(table, "name", "name", text); }),
              "config /t.toml: name: must be a string");
    EXPECT_EQ(first_error([&](auto& c) { c.string_list(table, "list", "list", list); }),
              "config /t.toml: list: must be an array of strings");
    EXPECT_EQ(first_error([&](auto& c) { c.only_keys(*table["sub"].as_table(), "sub", {"x"}); }),
              "config /t.toml: sub.y: unknown key");
    EXPECT_EQ(first_error([&](auto& c) {
                  c.fail("first", "wins");
                  c.duration(table, "timeout", "timeout", duration);
              }),
              "config /t.toml: first: wins");
    EXPECT_EQ(duration, fleet::Duration{0});
}

TEST(TomlCheck, IntegersBooleansAndTables) {
    const toml::table table = parse("n = 4\nbig = 2000\nfloat = 4.0\nflag = true\n"
                                    "word = \"true\"\n[sub]\nx = 1\n");
    fleet::TomlChecker check("policy /p.toml");
    size_t n = 0, untouched = 7;
    bool flag = false;
    check.integer(table, "n", "n", 1, 1024, n);
    check.integer(table, "absent", "absent", 1, 1024, untouched);
    check.boolean(table, "flag", "flag", flag);
    EXPECT_NE(check.table(table, "sub", "sub", "a table"), nullptr);
    EXPECT_EQ(check.table(table, "absent", "absent", "a table"), nullptr);
    EXPECT_FALSE(check.failed());
    EXPECT_EQ(n, 4U);
    EXPECT_EQ(untouched, 7U);
    EXPECT_TRUE(flag);

    const auto problem = [&](auto&& check_one) {
        fleet::TomlChecker failing("policy /p.toml");
        check_one(failing);
        return failing.failed() ? failing.error().message : "";
    };
    EXPECT_EQ(problem([&](auto& c) { c.integer(table, "big", "big", 1, 1024, n); }),
              "policy /p.toml: big: must be an integer from 1 to 1024");
    EXPECT_EQ(problem([&](auto& c) { c.integer(table, "float", "float", 1, 1024, n); }),
              "policy /p.toml: float: must be an integer from 1 to 1024");
    EXPECT_EQ(problem([&](auto& c) { c.boolean(table, "word", "word", flag); }),
              "policy /p.toml: word: must be true or false");
    EXPECT_EQ(problem([&](auto& c) { EXPECT_EQ(c.table(table, "n", "n", "a table"), nullptr); }),
              "policy /p.toml: n: must be a table");
    EXPECT_EQ(n, 4U);
}

} // namespace
