#include <cstdlib>

#include <gtest/gtest.h>

#include "guard/helper/caller.hpp"
#include "support/child.hpp"

namespace {

TEST(IdentifyCaller, SudosVariablesMeanThroughSudo) {
    const int result = fleet::test::in_child([] {
        for (const char* name : {"SUDO_USER", "SUDO_UID", "SUDO_GID", "SUDO_COMMAND"}) {
            unsetenv(name);
        }
        if (fleet::identify_caller().via_sudo) {
            return 1; // the control: no sudo here
        }
        setenv("SUDO_UID", "1000", 1);
        setenv("SUDO_USER", "ubuntu\x1b]0;x\a", 1);
        const fleet::Caller caller = fleet::identify_caller();
        if (!caller.via_sudo || !caller.remote() || caller.sudo_uid != 1000U) {
            return 2;
        }
        return caller.sudo_user->find('\x1b') == std::string::npos ? 0 : 3; // escaped
    });
    EXPECT_EQ(result, 0);
}

TEST(CallerFields, NameTheRoadAndTheKernelsPeer) {
    fleet::Caller direct;
    nlohmann::json line;
    fleet::add_caller_fields(direct, line);
    EXPECT_EQ(line["road"], "direct");
    EXPECT_FALSE(line.contains("peer_uid"));
    EXPECT_FALSE(direct.remote());
    fleet::Caller socket;
    socket.peer = fleet::SocketPeer{1000, 4242, "ubuntu"};
    fleet::add_caller_fields(socket, line);
    EXPECT_EQ(line["road"], "socket");
    EXPECT_EQ(line["peer_uid"], 1000);
    EXPECT_EQ(line["peer_pid"], 4242);
    EXPECT_EQ(line["peer_user"], "ubuntu");
    EXPECT_TRUE(socket.remote());
}

} // namespace
