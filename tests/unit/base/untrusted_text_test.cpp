#include <string>

#include <gtest/gtest.h>

#include "base/untrusted_text.hpp"

namespace {

using fleet::escape_untrusted;
using fleet::LineBreaks;
using fleet::TerminalEscaper;

TEST(UntrustedText, KeepsPrintableUtf8NewlinesAndTabs) {
    EXPECT_EQ(escape_untrusted("plain text\n\tgrüße ✓ 🚀"), "plain text\n\tgrüße ✓ 🚀");
}

TEST(UntrustedText, EscapesControlsAndInvalidUtf8) {
    EXPECT_EQ(escape_untrusted(std::string("\x1b]0;x\x07", 6)), "\\x1b]0;x\\x07");
    EXPECT_EQ(escape_untrusted(std::string("a\0b\r\x7f", 5)), "a\\x00b\\x0d\\x7f");
    EXPECT_EQ(escape_untrusted("\xc2\x9b"
                               "31m"),
              "\\xc2\\x9b31m"); // C1 CSI
    EXPECT_EQ(escape_untrusted("\xff\xfe"), "\\xff\\xfe");
    EXPECT_EQ(escape_untrusted("\xc0\xaf"), "\\xc0\\xaf");                   // overlong '/'
    EXPECT_EQ(escape_untrusted("\xed\xa0\x80"), "\\xed\\xa0\\x80");          // surrogate
    EXPECT_EQ(escape_untrusted("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); // > U+10FFFF
    EXPECT_EQ(escape_untrusted("\xe2\x82"), "\\xe2\\x82");                   // truncated
}

TEST(UntrustedText, OneLineFieldsEscapeLineBreaksToo) {
    EXPECT_EQ(escape_untrusted("a\nb\tc", LineBreaks::escaped), "a\\x0ab\\x09c");
    EXPECT_EQ(escape_untrusted("grüße", LineBreaks::escaped), "grüße"); // control: text stays
}

// A stream cut into chunks anywhere: the escaped result is the same as for the whole.
TEST(TerminalEscaper, ChunkBoundariesNeverChangeTheText) {
    const std::string text = "é ✓ 🚀 \x1b[31mred\r\n\xc2\x9b tail \xff";
    std::string whole;
    {
        TerminalEscaper escaper;
        whole = escaper.feed(text);
        whole += escaper.finish();
    }
    EXPECT_EQ(whole, "é ✓ 🚀 \\x1b[31mred\r\n\\xc2\\x9b tail \\xff");
    for (size_t cut = 0; cut <= text.size(); ++cut) {
        TerminalEscaper escaper;
        std::string split = escaper.feed(text.substr(0, cut)); // in order: one statement each
        split += escaper.feed(text.substr(cut));
        split += escaper.finish();
        EXPECT_EQ(split, whole) << "cut at " << cut;
    }
    TerminalEscaper bytewise;
    std::string one_by_one;
    for (const char c : text) {
        one_by_one += bytewise.feed(std::string(1, c));
    }
    one_by_one += bytewise.finish();
    EXPECT_EQ(one_by_one, whole);
}

TEST(TerminalEscaper, AStreamEndingInsideASequenceShowsItsBytes) {
    TerminalEscaper escaper;
    EXPECT_EQ(escaper.feed("ok \xe2\x82"), "ok ");
    EXPECT_EQ(escaper.finish(), "\\xe2\\x82");
}

} // namespace
