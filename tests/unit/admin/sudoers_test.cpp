#include <gtest/gtest.h>

#include "admin/sudoers.hpp"

namespace fleet {
namespace {

TEST(HelperSudoers, UserNamesAndFileNames) {
    for (const char* good : {"ubuntu", "john.doe", "_svc", "a-b_c.d", "agent1"}) {
        EXPECT_TRUE(is_valid_sudo_user_name(good)) << good;
    }
    for (const char* bad : {"", "-oProxyCommand=x", "x';id;'", "Root", "a b", "a,b", "a:b", "a=b",
                            "1abc", "a$", "abcdefghijklmnopqrstuvwxyz0123456"}) {
        EXPECT_FALSE(is_valid_sudo_user_name(bad)) << bad;
    }
    EXPECT_EQ(sudoers_file_name("ubuntu"), "fleet-helper-ubuntu");
    EXPECT_EQ(sudoers_file_name("john.doe"), "fleet-helper-john%2edoe");
    EXPECT_NE(sudoers_file_name("john.doe"), sudoers_file_name("john_doe"));
}

} // namespace
} // namespace fleet
