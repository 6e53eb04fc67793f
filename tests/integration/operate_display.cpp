// Operating runs (operate_test suite): the live display, escaped agent text, labels.
#include <algorithm>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/operate_fixture.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

TEST_F(Operate, OnATerminalSeveralAgentsGetALiveDisplay) {
    const std::string config = s_dir + "/live.toml";
    write_file(config,
               "user = \"" + s_user +
                   "\"\n[agents.ticker]\ncommand = [\"/bin/sh\", \"-c\", "
                   "\"for i in 1 2 3; do echo line $i; sleep 0.6; done\"]\n[agents.title]\n"
                   "command = [\"/bin/sh\", \"-c\", \"printf 'x\\\\033]0;evil\\\\007y\\\\n'\"]\n",
               0644);
    const std::string command = k_dispatch + " -c " + config + " -a ticker,title run x";
    const ProcessResult tty = fleet::test::run({"script", "-qec", command, "/dev/null"});
    EXPECT_EQ(tty.exit_code, 0) << tty.out;
    EXPECT_NE(tty.out.find("\x1b[2K"), std::string::npos) << "no live display";
    EXPECT_NE(tty.out.find("ticker "), std::string::npos);
    EXPECT_EQ(tty.out.find("[ticker] line 1"), std::string::npos) << "interleaved output on a tty";
    EXPECT_EQ(tty.out.find("\x1b]0;evil"), std::string::npos)
        << "agent escape reached the terminal";
    // The display never touches the logs. (A pty ends lines with \r\n: ids are 22 bytes.)
    ASSERT_EQ(tty.out.rfind("run-id: ", 0), 0U) << tty.out;
    const std::string id = tty.out.substr(8, 22);
    EXPECT_EQ(read_file(s_runs + "/" + id + "/ticker.log"), "line 1\nline 2\nline 3\n");
    // Control: through a pipe the same run interleaves prefixed lines, with no display.
    const ProcessResult piped = fleet::test::run({"/bin/sh", "-c", command});
    EXPECT_NE(piped.out.find("[ticker] line 1"), std::string::npos) << piped.out;
    EXPECT_EQ(piped.out.find("\x1b[2K"), std::string::npos);
    EXPECT_NE(piped.out.find("\x1b]0;evil"), std::string::npos) << "the agent really sent it";
}

// Agent text (its output, the reason quoted from it, whatever it wrote into status.json) is data:
// it reaches the operator's terminal escaped, never as escape sequences.
TEST_F(Operate, AgentTextReachesTheTerminalEscaped) {
    const std::string fake = s_dir + "/hostile-claude";
    write_file(fake,
               "#!/bin/sh\necho '{\"type\":\"result\",\"is_error\":true,\"result\":"
               "\"boom \\u001b]0;evil\\u0007 \\u009b31m\"}'\nexit 1\n",
               0755);
    const std::string config = s_dir + "/hostile.toml";
    write_file(config,
               "user = \"" + s_user + "\"\n[agents.claude]\nbinary = \"" + fake +
                   "\"\n[agents.title]\ncommand = [\"/bin/sh\", \"-c\", "
                   "\"printf 'x\\\\033]0;evil\\\\007y\\\\n'\"]\n",
               0644);
    const auto raw_control = [](const std::string& text) {
        return text.find('\x1b') != std::string::npos || text.find("\xc2\x9b") != std::string::npos;
    };
    // One agent on a terminal: its stream is shown, escaped.
    const ProcessResult tty = fleet::test::run(
        {"script", "-qec", k_dispatch + " -c " + config + " -a title run x", "/dev/null"});
    EXPECT_EQ(tty.out.find("\x1b]0;evil"), std::string::npos) << tty.out;
    EXPECT_NE(tty.out.find("x\\x1b]0;evil\\x07y"), std::string::npos) << tty.out;
    // Control: through a pipe the bytes are the agent's, unchanged.
    const ProcessResult piped = dispatch({"-a", "title", "run", "x"}, {}, config);
    EXPECT_NE(piped.out.find("x\x1b]0;evil\x07y"), std::string::npos) << piped.out;

    // The reason quoted from the agent's output, in the summary and in status.
    const ProcessResult failed = dispatch({"-a", "claude", "run", "x"}, {}, config);
    const std::string id = run_id_of(failed.out);
    ASSERT_FALSE(id.empty()) << failed.err;
    const std::string summary = failed.out.substr(failed.out.find("\n== run"));
    EXPECT_FALSE(raw_control(summary)) << summary;
    EXPECT_NE(summary.find("boom \\x1b]0;evil"), std::string::npos) << summary;
    const ProcessResult status = dispatch({"status", id}, {}, config);
    EXPECT_FALSE(raw_control(status.out)) << status.out;
    EXPECT_NE(status.out.find("boom \\x1b]0;evil"), std::string::npos) << status.out;
    const ProcessResult as_json = dispatch({"status", id, "--json"}, {}, config);
    EXPECT_TRUE(std::all_of(as_json.out.begin(), as_json.out.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x80;
    })) << as_json.out;
    EXPECT_EQ(json::parse(as_json.out)["agents"][0]["reason"], "boom \x1b]0;evil\x07 \u009b31m");

    // What an agent could have written into status.json: labels with escape sequences.
    const std::string status_path = s_runs + "/" + id + "/status.json";
    json forged = json::parse(read_file(status_path));
    forged["labels"] = {{"team", "\x1b[31mred\xc2\x9b"}};
    write_file(status_path, forged.dump(), 0644);
    const ProcessResult listed = dispatch({"list"}, {}, config);
    EXPECT_FALSE(raw_control(listed.out)) << listed.out;
    EXPECT_NE(listed.out.find("team=\\x1b[31mred\\xc2\\x9b"), std::string::npos) << listed.out;
    const ProcessResult shown = dispatch({"status", id}, {}, config);
    EXPECT_FALSE(raw_control(shown.out)) << shown.out;
}

TEST_F(Operate, LabelsAreRecordedAndFilterList) {
    RunOptions ssm;
    ssm.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "SSM_COMMAND_ID=cmd-0123"};
    const std::string labelled = run_id_of(
        dispatch({"--label", "team=infra", "--label", "ticket=OPS-7", "-a", "quick", "run", "x"},
                 ssm)
            .out);
    const std::string failed = run_id_of(dispatch({"-a", "fail", "run", "x"}).out);
    const json status = status_json(labelled);
    EXPECT_EQ(status["labels"]["team"], "infra");
    EXPECT_EQ(status["labels"]["ssm-command-id"], "cmd-0123");
    EXPECT_EQ(json::parse(read_file(s_runs + "/" + labelled + "/run.json"))["labels"]["ticket"],
              "OPS-7");

    const json by_label = json::parse(dispatch({"list", "--json", "--label", "team=infra"}).out);
    ASSERT_EQ(by_label.size(), 1U);
    EXPECT_EQ(by_label[0]["run_id"], labelled);
    EXPECT_EQ(
        json::parse(dispatch({"list", "--json", "--label", "ssm-command-id=cmd-0123"}).out).size(),
        1U);
    const json by_state = json::parse(dispatch({"list", "--json", "--state", "failed"}).out);
    ASSERT_GE(by_state.size(), 1U);
    for (const json& run : by_state) {
        EXPECT_EQ(run["state"], "failed");
    }
    EXPECT_NE(dispatch({"list"}).out.find("team=infra"), std::string::npos);
    EXPECT_EQ(dispatch({"--label", "Bad Key=x", "run", "x"}).exit_code, 2);
    EXPECT_FALSE(failed.empty());
}

} // namespace
