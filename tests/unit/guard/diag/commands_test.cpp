#include <gtest/gtest.h>

#include "guard/diag/commands.hpp"
#include "guard/diag/policy.hpp"
#include "guard/diag/request.hpp"
#include "guard/diag/tokenizer.hpp"

namespace fleet {
namespace {

DiagRequest parse(std::string_view text) {
    Result<std::vector<std::string>> words = tokenize(text);
    EXPECT_TRUE(words) << text;
    Result<DiagRequest> request = parse_diag_request(*words);
    EXPECT_TRUE(request) << text << ": " << (request ? "" : request.error().message);
    return *request;
}

TEST(DiagCommands, BuildsArgvFromTheTypedRequest) {
    const DiagPolicy policy;
    const auto argv = [&](const char* text) { return diag_tool_argv(policy, parse(text)); };
    EXPECT_EQ(argv("systemctl is-active nginx ssh"),
              (std::vector<std::string>{"/usr/bin/systemctl", "--no-pager", "--no-ask-password",
                                        "is-active", "--", "nginx", "ssh"}));
    // status is answered from `systemctl show`: systemctl's status page prints the unit's
    // process tree with every command line.
    const std::vector<std::string> status = argv("systemctl status nginx ssh");
    ASSERT_EQ(status.size(), 8U);
    EXPECT_EQ(status[3], "show");
    EXPECT_EQ(status[4].rfind("--property=Id,Description,", 0), 0U) << status[4];
    EXPECT_EQ(status[4].find("ExecStart"), std::string::npos);
    EXPECT_EQ(status[4].find("StatusText"), std::string::npos);
    EXPECT_EQ(std::vector<std::string>(status.begin() + 5, status.end()),
              (std::vector<std::string>{"--", "nginx", "ssh"}));
    EXPECT_EQ(argv("systemctl list-units --failed --type=timer"),
              (std::vector<std::string>{"/usr/bin/systemctl", "--no-pager", "--no-ask-password",
                                        "list-units", "--failed", "--type=timer"}));
    EXPECT_EQ(argv("journalctl -u nginx -n 5 --since -1h -p err -b -o short-iso --no-hostname"),
              (std::vector<std::string>{"/usr/bin/journalctl", "--no-pager", "--quiet", "--lines=5",
                                        "--unit=nginx", "--since=-1h", "--priority=err",
                                        "--output=short-iso", "--boot=0", "--no-hostname"}));
    EXPECT_EQ(argv("journalctl"), (std::vector<std::string>{"/usr/bin/journalctl", "--no-pager",
                                                            "--quiet", "--lines=200"}));
    EXPECT_EQ(argv("ps"), (std::vector<std::string>{"/usr/bin/ps", "-eo",
                                                    "pid,ppid,user,%cpu,%mem,etime,stat,comm"}));
    EXPECT_EQ(argv("docker logs --since 10m web"),
              (std::vector<std::string>{"/usr/bin/docker", "logs", "--tail", "200", "--since",
                                        "10m", "--", "web"}));
    EXPECT_EQ(argv("podman ps"),
              (std::vector<std::string>{"/usr/bin/podman", "ps", "--format",
                                        "table {{.Names}}\\t{{.Image}}\\t{{.Status}}"}));
}

} // namespace
} // namespace fleet
