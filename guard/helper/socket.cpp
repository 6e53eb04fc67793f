#include "guard/helper/socket.hpp"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "guard/common/json_line.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

constexpr size_t k_max_request = size_t{64} * 1024;
constexpr size_t k_max_answer = size_t{1} << 20;
constexpr int k_request_timeout_ms = 10'000;
constexpr int k_answer_timeout_ms = 15 * 60 * 1000;
constexpr int k_refused = 2;

int socket_option(int fd, int option) {
    int value = -1;
    socklen_t size = sizeof value;
    return ::getsockopt(fd, SOL_SOCKET, option, &value, &size) == 0 ? value : -1;
}

// Reads until `stop` is seen, EOF, `max` bytes or `timeout_ms` in all (one deadline, however
// slowly the bytes come); what was read.
Result<std::string> read_until(int fd, char stop, size_t max, int timeout_ms) {
    std::string text;
    char buffer[4096];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (text.find(stop) == std::string::npos) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd ready{fd, POLLIN, 0};
        const int polled =
            left.count() <= 0 ? 0 : ::poll(&ready, 1, static_cast<int>(left.count()));
        if (polled < 0 && errno == EINTR) {
            continue;
        }
        if (polled <= 0) {
            return Error{ErrorKind::invalid_input,
                         polled == 0 ? "no complete line in time" : std::strerror(errno)};
        }
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return system_error("read", errno);
        }
        if (n == 0) {
            break;
        }
        text.append(buffer, static_cast<size_t>(n));
        if (text.size() > max) {
            return input_error("more than " + std::to_string(max) + " bytes");
        }
    }
    return text.substr(0, text.find(stop));
}

} // namespace

Result<SocketPeer> socket_peer(int fd) {
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISSOCK(info.st_mode) ||
        socket_option(fd, SO_DOMAIN) != AF_UNIX || socket_option(fd, SO_TYPE) != SOCK_STREAM) {
        return input_error("fd " + std::to_string(fd) + " is not a unix stream connection");
    }
    ucred cred{};
    socklen_t size = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) != 0) {
        return system_error("getsockopt(SO_PEERCRED)", errno);
    }
    SocketPeer peer{cred.uid, cred.pid, ""};
    passwd entry{};
    passwd* found = nullptr;
    std::string buffer(16384, '\0');
    if (::getpwuid_r(cred.uid, &entry, buffer.data(), buffer.size(), &found) == 0 &&
        found != nullptr) {
        peer.user = entry.pw_name;
    }
    return peer;
}

Result<std::vector<std::string>> read_socket_request(int fd) {
    Result<std::string> line = read_until(fd, '\n', k_max_request, k_request_timeout_ms);
    if (!line) {
        return input_error("request: " + line.error().message);
    }
    const nlohmann::json request = nlohmann::json::parse(*line, nullptr, false);
    const auto argv = request.is_object() ? request.find("argv") : request.end();
    if (!request.is_object() || argv == request.end() || !argv->is_array() || argv->empty()) {
        return input_error("request: one line of JSON, {\"argv\": [\"service\", ...]}");
    }
    std::vector<std::string> args;
    for (const nlohmann::json& word : *argv) {
        if (!word.is_string()) {
            return input_error("request: every argv element must be a string");
        }
        args.push_back(word.get<std::string>());
    }
    return args;
}

Status write_socket_answer(int fd, nlohmann::json answer, int exit_code) {
    answer["exit"] = exit_code;
    if (const int error = write_all(fd, json_line(answer) + "\n"); error != 0) {
        return system_error("write the answer", error);
    }
    return Ok{};
}

bool socket_activated() {
    const char* fds = std::getenv("LISTEN_FDS");
    const char* pid = std::getenv("LISTEN_PID");
    return fds != nullptr && pid != nullptr && std::strcmp(fds, "1") == 0 &&
           std::strtol(pid, nullptr, 10) == ::getpid();
}

std::optional<std::string> helper_socket_path() {
    const char* chosen = std::getenv("FLEET_HELPER_SOCKET");
    const std::string path = chosen != nullptr && *chosen != '\0' ? chosen : k_helper_socket;
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0 || !S_ISSOCK(info.st_mode)) {
        return std::nullopt;
    }
    return path;
}

int call_helper_socket(const std::string& path, const std::vector<std::string>& args) {
    const auto fail = [&](const std::string& why) {
        std::cout << json_line({{"ok", false}, {"error", path + ": " + why}, {"exit", k_refused}})
                  << "\n";
        return k_refused;
    };
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) {
        return fail("path too long for a unix socket");
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    const Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid() ||
        ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        return fail(std::string("connect: ") + std::strerror(errno));
    }
    if (write_all(fd.get(), json_line({{"argv", args}}) + "\n") != 0) {
        return fail(std::string("send: ") + std::strerror(errno));
    }
    ::shutdown(fd.get(), SHUT_WR);
    Result<std::string> line = read_until(fd.get(), '\n', k_max_answer, k_answer_timeout_ms);
    const nlohmann::json answer =
        line ? nlohmann::json::parse(*line, nullptr, false) : nlohmann::json();
    if (!answer.is_object() || !answer.contains("exit") || !answer["exit"].is_number_integer()) {
        return fail(line ? "no answer" : line.error().message);
    }
    std::cout << *line << "\n";
    return answer["exit"].get<int>();
}

} // namespace fleet
