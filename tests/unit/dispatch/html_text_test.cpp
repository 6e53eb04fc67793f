#include <string>

#include <gtest/gtest.h>

#include "dispatch/html_text.hpp"

namespace fleet {
namespace {

TEST(HtmlText, EscapesTheFiveCharacters) {
    EXPECT_EQ(html_escape("<a href='x'>&\"</a>"),
              "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    EXPECT_EQ(html_escape("plain \xc3\xbc"), "plain \xc3\xbc");
}

TEST(HtmlText, AFieldIsOneLineOfVisibleText) {
    EXPECT_EQ(html_text("a\nb\x1b[2J<i>", 300), "a\\x0ab\\x1b[2J&lt;i&gt;");
    EXPECT_EQ(html_text("abcdef", 3), "abc...");
    EXPECT_EQ(html_block("one\ntwo\n"), "one\ntwo\n") << "a block keeps its lines";
}

TEST(HtmlText, BidiOverridesAndIsolatesAreMadeVisible) {
    EXPECT_EQ(html_text("abc\xe2\x80\xae"
                        "fdp.exe",
                        300),
              "abc\\u202efdp.exe");
    EXPECT_EQ(html_block("\xe2\x81\xa6x\xe2\x81\xa9"), "\\u2066x\\u2069");
    EXPECT_EQ(html_text("\xe2\x80\x94", 300), "\xe2\x80\x94") << "control: an em dash stays";
}

} // namespace
} // namespace fleet
