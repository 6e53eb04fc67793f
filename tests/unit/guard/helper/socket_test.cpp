#include <cstdlib>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "guard/helper/socket.hpp"
#include "support/child.hpp"
#include "sys/io.hpp"

namespace {

// A connected pair: [0] the server's end, [1] the client's.
struct Pair {
    Pair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0); }
    ~Pair() {
        close(fds[0]);
        close(fds[1]);
    }
    int fds[2] = {-1, -1};
};

TEST(SocketPeer, IsWhatTheKernelSaysOfTheOtherEnd) {
    Pair pair;
    const fleet::Result<fleet::SocketPeer> peer = fleet::socket_peer(pair.fds[0]);
    ASSERT_TRUE(peer) << peer.error().message;
    EXPECT_EQ(peer->uid, getuid());
    EXPECT_EQ(peer->pid, getpid());
    EXPECT_FALSE(peer->user.empty());
    // Not a unix stream socket: refused (the control is the pair above).
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    EXPECT_FALSE(fleet::socket_peer(pipe_fds[0]));
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    const int datagram = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_FALSE(fleet::socket_peer(datagram));
    close(datagram);
}

TEST(ReadSocketRequest, OneLineOfJsonWithAnArgvOfStrings) {
    const auto request = [](const std::string& line) {
        Pair pair;
        fleet::write_all(pair.fds[1], line);
        shutdown(pair.fds[1], SHUT_WR);
        return fleet::read_socket_request(pair.fds[0]);
    };
    const auto ok = request("{\"argv\": [\"service\", \"restart\", \"nginx\"], \"uid\": 0}\n");
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(*ok, (std::vector<std::string>{"service", "restart", "nginx"}));
    EXPECT_TRUE(request("{\"argv\": [\"ping\"]}")); // EOF ends the line too
    for (const char* bad : {"not json\n", "[\"ping\"]\n", "{\"argv\": []}\n",
                            "{\"argv\": [\"ping\", 7]}\n", "{\"args\": [\"ping\"]}\n"}) {
        EXPECT_FALSE(request(bad)) << bad;
    }
    EXPECT_FALSE(request("{\"argv\": [\"" + std::string(70000, 'x') + "\"]}\n"));
}

TEST(WriteSocketAnswer, AddsTheHelpersExitCode) {
    Pair pair;
    ASSERT_TRUE(fleet::write_socket_answer(pair.fds[0], {{"ok", false}, {"error", "no"}}, 2));
    shutdown(pair.fds[0], SHUT_WR);
    const fleet::Result<std::string> line = fleet::read_fd(pair.fds[1], 4096);
    ASSERT_TRUE(line);
    const nlohmann::json answer = nlohmann::json::parse(*line);
    EXPECT_EQ(answer["exit"], 2);
    EXPECT_EQ(answer["error"], "no");
    EXPECT_EQ(line->back(), '\n');
}

TEST(SocketActivated, OnlyWithOneFdForThisProcess) {
    const int result = fleet::test::in_child([] {
        if (fleet::socket_activated()) {
            return 1;
        }
        setenv("LISTEN_FDS", "1", 1);
        setenv("LISTEN_PID", std::to_string(getpid() + 1).c_str(), 1);
        if (fleet::socket_activated()) {
            return 2; // another process's fds
        }
        setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
        if (!fleet::socket_activated()) {
            return 3;
        }
        setenv("LISTEN_FDS", "2", 1);
        return fleet::socket_activated() ? 4 : 0;
    });
    EXPECT_EQ(result, 0);
}

TEST(HelperSocketPath, OnlyASocketThatIsThere) {
    const int result = fleet::test::in_child([] {
        setenv("FLEET_HELPER_SOCKET", "/etc/hostname", 1); // not a socket
        if (fleet::helper_socket_path()) {
            return 1;
        }
        setenv("FLEET_HELPER_SOCKET", "/nonexistent/helper.sock", 1);
        return fleet::helper_socket_path() ? 2 : 0;
    });
    EXPECT_EQ(result, 0);
}

} // namespace
