#include <gtest/gtest.h>

#include "guard/helper/policy.hpp"
#include "guard/helper/transaction.hpp"

namespace fleet {
namespace {

TEST(HelperTransaction, ReadsRemovalsFromASimulation) {
    EXPECT_EQ(simulated_removals("Reading package lists...\nRemv ansible-core [2.14]\n"
                                 "Remv libnl-3-200:amd64 [3.7]\nInst x (1 Debian)\nConf x\n"),
              (std::vector<std::string>{"ansible-core", "libnl-3-200"}));
    EXPECT_TRUE(simulated_removals("Inst htop (3.2)\nConf htop\n").empty());
    EXPECT_EQ(simulated_removals("Purg openssh-server [1:9.2]\n"), // APT::Get::Purge
              (std::vector<std::string>{"openssh-server"}));
}

TEST(HelperTransaction, OnlyTheNamedPackageMayGo) {
    const HelperPolicy policy = *parse_policy("", "test");
    Request remove{Command::package, "remove", "htop", {}, {}};
    EXPECT_TRUE(judge_removals(policy, remove, {"htop"}));
    EXPECT_TRUE(judge_removals(policy, remove, {}));
    const Status more = judge_removals(policy, remove, {"htop", "libfoo"});
    ASSERT_FALSE(more);
    EXPECT_EQ(more.error().message, "package remove htop would also remove libfoo: only the "
                                    "named package may go");
    const Status guarded = judge_removals(policy, remove, {"htop", "openssh-server"});
    ASSERT_FALSE(guarded);
    EXPECT_NE(guarded.error().message.find("protected openssh-server"), std::string::npos);
    Request install{Command::package, "install", "sudo-ldap", {}, {}};
    EXPECT_FALSE(judge_removals(policy, install, {"sudo-ldap"})); // an install removes nothing
    EXPECT_TRUE(judge_removals(policy, install, {}));
}

} // namespace
} // namespace fleet
