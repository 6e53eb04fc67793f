#include <fcntl.h>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dispatch/summary.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {
namespace {

AgentStatus agent(const std::string& name, AgentState state) {
    AgentStatus status;
    status.name = name;
    status.state = state;
    status.log = "/home/u/runs/20261201-100000-abcdef/" + name + ".log";
    status.started_at = "2026-12-01T10:00:00.000Z";
    status.finished_at = "2026-12-01T10:00:12.500Z";
    status.bytes = 1234;
    return status;
}

TEST(Summary, ALinePerAgent) {
    RunStatus status;
    status.run_id = "20261201-100000-abcdef";
    status.state = RunState::failed;
    status.exit_code = 1;
    AgentStatus good = agent("claude", AgentState::succeeded);
    good.exit_code = 0;
    AgentStatus bad = agent("codex", AgentState::failed);
    bad.exit_code = 1;
    bad.reason = "API error 401";
    status.agents = {good, bad};
    const std::string text = summary_text(status);
    EXPECT_NE(text.find("== run 20261201-100000-abcdef: failed (exit 1); logs in "
                        "/home/u/runs/20261201-100000-abcdef\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("claude  succeeded    exit 0       12.5s       1234 B\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("codex   failed       exit 1       12.5s       1234 B  API error 401\n"),
              std::string::npos)
        << text;
}

// What an agent could have written (its name is checked, its reason is not) cannot reach the
// terminal as control bytes, and stays on its line.
TEST(Summary, EscapesWhatTheAgentsWrote) {
    RunStatus status;
    status.run_id = "20261201-100000-abcdef";
    AgentStatus forged = agent("claude", AgentState::failed);
    forged.reason = "\x1b]0;pwned\x07\nfake line";
    status.agents = {forged};
    const std::string text = summary_text(status);
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
    EXPECT_EQ(text.find("\nfake line"), std::string::npos) << text;
}

// SSM's console shows 2,500 characters: a hundred agents are summed up, not listed.
TEST(Summary, StaysWithinWhatSsmShows) {
    RunStatus status;
    status.run_id = "20261201-100000-abcdef";
    for (int i = 0; i < 100; ++i) {
        status.agents.push_back(agent("agent-" + std::to_string(i), AgentState::succeeded));
    }
    const std::string text = summary_text(status);
    EXPECT_LE(text.size(), 2000U);
    EXPECT_NE(text.find(" more agents: dispatch status 20261201-100000-abcdef\n"),
              std::string::npos)
        << text;
}

TEST(ResultLine, IsOneLineOfTheStatusShape) {
    RunStatus status;
    status.run_id = "20261201-100000-abcdef";
    status.state = RunState::failed;
    status.exit_code = 1;
    status.agents = {agent("claude", AgentState::succeeded), agent("codex", AgentState::failed)};
    EXPECT_EQ(result_line(status),
              "{\"run_id\":\"20261201-100000-abcdef\",\"state\":\"failed\",\"exit_code\":1,"
              "\"agents\":[{\"name\":\"claude\",\"state\":\"succeeded\"},{\"name\":\"codex\","
              "\"state\":\"failed\"}],\"more_agents\":0}\n");
    const nlohmann::json parsed = nlohmann::json::parse(result_line(status));
    EXPECT_EQ(parsed["agents"][1]["state"], "failed");
}

// Many agents: the list is cut and says how many more; the line stays within its budget, and
// the summary before it leaves it room, so the end of a run fits in SSM's console.
TEST(ResultLine, CountsTheAgentsThatDoNotFit) {
    RunStatus status;
    status.run_id = "20261201-100000-abcdef";
    status.state = RunState::succeeded;
    status.exit_code = 0;
    for (int i = 0; i < 100; ++i) {
        status.agents.push_back(
            agent("an-agent-with-a-rather-long-name-" + std::to_string(i), AgentState::succeeded));
    }
    const std::string line = result_line(status);
    EXPECT_LE(line.size(), k_max_result_line);
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    const nlohmann::json parsed = nlohmann::json::parse(line);
    EXPECT_GT(parsed["agents"].size(), 0U);
    EXPECT_EQ(parsed["agents"].size() + parsed["more_agents"].get<size_t>(), 100U) << line;

    const std::string end = run_end_text(status);
    EXPECT_LE(end.size(), k_max_summary);
    EXPECT_EQ(end.substr(end.size() - line.size()), line) << "the result line is the last";
    EXPECT_NE(end.find(" more agents: dispatch status "), std::string::npos);
}

TEST(LiveDisplay, RedrawsInPlaceEscaped) {
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    const Fd read_end(fds[0]);
    {
        const Fd write_end(fds[1]);
        LiveDisplay display(write_end.get());
        LiveAgent one{"claude", AgentState::running, std::chrono::seconds(3), 42, "edit \x1b[2J"};
        display.draw({one});
        display.draw({one});
    }
    const Result<std::string> text = read_fd(read_end.get(), 1 << 16);
    ASSERT_TRUE(text);
    EXPECT_EQ(text->find("\x1b[2J"), std::string::npos) << *text; // the agent's escape, escaped
    EXPECT_NE(text->find("\x1b[1A"), std::string::npos) << *text; // the second frame goes up one
    EXPECT_EQ(text->rfind("\x1b[2Kclaude ", 0), 0U) << *text;
}

} // namespace
} // namespace fleet
