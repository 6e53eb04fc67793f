#include <gtest/gtest.h>

#include "guard/diag/tokenizer.hpp"

namespace fleet {
namespace {

TEST(DiagTokenizer, SplitsOnSpacesAndGroupsQuotes) {
    EXPECT_EQ(*tokenize("journalctl  -u nginx"),
              (std::vector<std::string>{"journalctl", "-u", "nginx"}));
    EXPECT_EQ(*tokenize("journalctl --since \"2026-01-02 10:00\""),
              (std::vector<std::string>{"journalctl", "--since", "2026-01-02 10:00"}));
    EXPECT_EQ(*tokenize("a 'b c' \"d'e\""), (std::vector<std::string>{"a", "b c", "d'e"}));
    EXPECT_EQ(*tokenize(" cat /etc/hostname "), (std::vector<std::string>{"cat", "/etc/hostname"}));
    EXPECT_TRUE(tokenize("")->empty());
}

// Each hostile request is refused; the control beside it is the same without the hostile part.
TEST(DiagTokenizer, RefusesShellSyntaxWithAControlEach) {
    const std::pair<std::string, std::string> cases[] = {
        {"cat /etc/hostname; id", "cat /etc/hostname"},
        {"cat /etc/hostname\nid", "cat /etc/hostname"},
        {"cat /etc/hostname\rid", "cat /etc/hostname"},
        {"cat `id`", "cat /etc/hostname"},
        {"cat $(id)", "cat /etc/hostname"},
        {"cat '$(id)'", "cat /etc/hostname"},
        {"cat /etc/hostname > /tmp/x", "cat /etc/hostname"},
        {"cat /etc/hostname | sh", "cat /etc/hostname"},
        {"cat /etc/hostname && id", "cat /etc/hostname"},
        {"cat /etc/host*", "cat /etc/hostname"},
        {"cat ~/.ssh/id_rsa", "cat /etc/hostname"},
        {"cat /etc/hostname\\", "cat /etc/hostname"},
        {"cat 'unterminated", "cat 'terminated'"},
        {"cat ''", "cat 'x'"},
        {"cat\t/etc/hostname", "cat /etc/hostname"},
        {std::string("cat /etc/host\0name", 18), "cat /etc/hostname"},
        {"cat /etc/\x1b[2Jhostname", "cat /etc/hostname"},
        {"cat /etc/\xff", "cat /etc/\xc3\xa9"},
        {"cat /etc/\xc2\x9b", "cat /etc/\xc3\xa9"},
        {"cat {a,b}", "cat a,b"},
        {"cat !x", "cat x"},
        {"cat #x", "cat x"},
    };
    for (const auto& [bad, good] : cases) {
        EXPECT_FALSE(tokenize(bad)) << bad;
        EXPECT_TRUE(tokenize(good)) << good;
    }
    EXPECT_FALSE(tokenize(std::string(4097, 'a')));
    std::string many;
    for (int i = 0; i < 65; ++i) {
        many += "a ";
    }
    EXPECT_FALSE(tokenize(many));
}

} // namespace
} // namespace fleet
