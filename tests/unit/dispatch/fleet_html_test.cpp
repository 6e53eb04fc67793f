#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dispatch/fleet_html.hpp"

namespace fleet {
namespace {

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
        ++n;
    }
    return n;
}

FleetRun run_of(const std::string& host, const std::string& id, AgentState state) {
    FleetRun run;
    run.host = host;
    run.run_id = id;
    run.status.run_id = id;
    run.status.state = state == AgentState::succeeded ? RunState::succeeded : RunState::failed;
    run.status.started_at =
        id.substr(0, 4) + "-" + id.substr(4, 2) + "-" + id.substr(6, 2) + "T10:00:00.000Z";
    AgentStatus agent;
    agent.name = "claude";
    agent.state = state;
    agent.started_at = run.status.started_at;
    agent.finished_at = run.status.started_at.substr(0, 11) + "10:02:30.000Z";
    agent.usage.input_tokens = 1000;
    agent.usage.cost_usd = 0.25;
    agent.confinement = Confinement{ConfinementLevel::full, 4, ""};
    run.status.agents = {agent};
    return run;
}

std::vector<FleetRun> a_fleet() {
    std::vector<FleetRun> runs = {run_of("web-1", "20261202-100000-aaaaaa", AgentState::failed),
                                  run_of("web-1", "20261201-100000-bbbbbb", AgentState::succeeded),
                                  run_of("db-2", "20261201-090000-cccccc", AgentState::timed_out)};
    runs[0].status.agents[0].reason = "<b>bold</b> & \"quoted\"";
    runs[0].log_tail["claude"] = "ok\n<script>alert(1)</script>\n\x1b]0;title\x07\n";
    FleetRun broken;
    broken.host = "db-3";
    broken.run_id = "20261201-080000-dddddd";
    broken.unreadable = "status.json: <img src=x onerror=alert(1)>";
    runs.push_back(broken);
    return runs;
}

TEST(FleetHtml, AgentTextIsShownAsTextNeverAsMarkup) {
    const std::string page = fleet_html(a_fleet(), "2026-12-02T10:00:00.000Z", "fleet <test>");
    EXPECT_EQ(page.find("<script"), std::string::npos);
    EXPECT_EQ(page.find("<img"), std::string::npos);
    EXPECT_EQ(page.find("<b>"), std::string::npos);
    EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
    EXPECT_NE(page.find("&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;"), std::string::npos);
    EXPECT_NE(page.find("\\x1b]0;title\\x07"), std::string::npos) << "controls made visible";
    EXPECT_EQ(page.find('\x1b'), std::string::npos);
    EXPECT_NE(page.find("<title>fleet &lt;test&gt;</title>"), std::string::npos);
}

TEST(FleetHtml, ThePageHasEverySectionAndFetchesNothing) {
    const std::string page = fleet_html(a_fleet(), "2026-12-02T10:00:00.000Z", "fleet");
    for (const char* id : {"fleet", "outcomes", "durations", "usage", "confinement", "runs"}) {
        EXPECT_NE(page.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
    }
    EXPECT_EQ(count(page, "<tr class=\"host\">"), 3U) << "web-1, db-2, db-3";
    EXPECT_EQ(count(page, "<section class=\"run"), 4U);
    EXPECT_EQ(count(page, "<section class=\"run unreadable\""), 1U);
    EXPECT_EQ(count(page, "<circle class=\"dot\""), 3U);
    EXPECT_NE(page.find("data-outcome=\"timed_out\""), std::string::npos);
    EXPECT_NE(page.find("default-src 'none'"), std::string::npos);
    for (const char* remote : {"http:", "https:", "src=\"", "@import", "url("}) {
        EXPECT_EQ(page.find(remote), std::string::npos) << remote;
    }
    EXPECT_NE(page.find("<td>2026-12-01</td><td>claude</td><td>2</td><td>2000</td><td>0</td>"
                        "<td>0.5000</td>"),
              std::string::npos)
        << "per day and agent: web-1's and db-2's runs of the 1st";
}

TEST(FleetHtml, OneHostilesNumbersDoNotBendTheCharts) {
    std::vector<FleetRun> runs = a_fleet();
    FleetRun future = run_of("evil", "29991231-100000-eeeeee", AgentState::succeeded);
    future.status.agents[0].usage.cost_usd = -1e308;
    FleetRun costly = run_of("evil", "20261202-110000-ffffff", AgentState::succeeded);
    costly.status.agents[0].usage.cost_usd = std::numeric_limits<double>::infinity();
    costly.status.agents[0].finished_at = "2999-01-01T00:00:00.000Z"; // took centuries
    runs.insert(runs.begin(), {future, costly});
    const std::string page = fleet_html(runs, "2026-12-02T12:00:00.000Z", "fleet");
    EXPECT_EQ(page.find(">12-31<"), std::string::npos) << "the year 2999 is not charted";
    EXPECT_NE(page.find(">12-01<"), std::string::npos) << "control: the real first day is";
    EXPECT_EQ(page.find("nan"), std::string::npos);
    EXPECT_EQ(page.find("$inf"), std::string::npos);
    EXPECT_EQ(page.find("$-"), std::string::npos);
    EXPECT_EQ(page.find("height=\"-"), std::string::npos);
    EXPECT_EQ(count(page, "<circle class=\"dot\""), 3U) << "the centuries-long run has no dot";
    EXPECT_NE(page.find("29991231-100000-eeeeee"), std::string::npos) << "but it is listed";
}

TEST(FleetHtml, BidiOverridesAreMadeVisible) {
    std::vector<FleetRun> runs = a_fleet();
    runs[0].status.agents[0].reason = "abc\xe2\x80\xae"
                                      "fdp.exe";
    const std::string page = fleet_html(runs, "2026-12-02T10:00:00.000Z", "fleet");
    EXPECT_EQ(page.find("\xe2\x80\xae"), std::string::npos);
    EXPECT_NE(page.find("abc\\u202efdp.exe"), std::string::npos);
}

TEST(FleetHtml, NoRunsIsAnEmptyReportNotAnError) {
    const std::string page = fleet_html({}, "2026-12-02T10:00:00.000Z", "fleet");
    EXPECT_NE(page.find("0 hosts, 0 runs"), std::string::npos);
    EXPECT_NE(page.find("</html>"), std::string::npos);
}

} // namespace
} // namespace fleet
