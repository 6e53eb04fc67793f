#include "dispatch/fleet_html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "base/clock.hpp"
#include "base/duration.hpp"
#include "dispatch/html_text.hpp"

namespace fleet {

namespace {

constexpr size_t k_max_field = 300; // a reason, a label, an error: one table cell's worth
constexpr size_t k_max_days = 60;   // the charts' last days
constexpr size_t k_max_agents = 64; // the columns and charts: the agents with the most runs
constexpr Duration k_max_took = std::chrono::hours(24 * 7); // a longer one is no run's

const char* const k_style = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 6px;
text-align:left;vertical-align:top}th{background:#f4f4f4}
.o{display:inline-block;padding:0 5px;border-radius:3px;color:#fff;font-size:12px}
.o-succeeded{background:#2e7d32}.o-failed{background:#c62828}.o-timed_out{background:#ef6c00}
.o-cancelled{background:#757575}.o-spawn_failed{background:#8e0000}.o-lost{background:#6a1b9a}
.o-running{background:#1565c0}.o-pending{background:#90a4ae}.o-skipped{background:#b0bec5}
.o-unreadable{background:#000}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:4px;max-height:24em;overflow:auto;
white-space:pre-wrap;word-break:break-all}
section.run{border:1px solid #ddd;padding:0 .8em;margin:.8em 0}
section.unreadable{border-color:#000}
.chart text{font-size:10px;fill:#555}.legend span{margin-right:1em}
)";

const std::map<std::string, std::string, std::less<>> k_colours = {
    {"succeeded", "#2e7d32"}, {"failed", "#c62828"},       {"timed_out", "#ef6c00"},
    {"cancelled", "#757575"}, {"spawn_failed", "#8e0000"}, {"lost", "#6a1b9a"},
    {"running", "#1565c0"},   {"pending", "#90a4ae"},      {"skipped", "#b0bec5"}};

std::string colour(const std::string& outcome) {
    const auto found = k_colours.find(outcome);
    return found == k_colours.end() ? "#000" : found->second;
}

// Text from a host or an agent, for an element's content or an attribute (html_text.hpp).
std::string text(const std::string& untrusted, size_t cap = k_max_field) {
    return html_text(untrusted, cap);
}

// Outcomes are status.json's words; any other text gets no class of its own.
std::string badge(const std::string& outcome) {
    const bool known = k_colours.contains(outcome) || outcome == "unreadable";
    return "<span class=\"o o-" + (known ? outcome : std::string("unknown")) + "\">" +
           text(outcome) + "</span>";
}

// A cost an agent reported, when it is one (a negative or infinite one counts as none).
double cost_of(const AgentStatus& agent) {
    const std::optional<double> cost = agent.usage.cost_usd;
    return cost && std::isfinite(*cost) && *cost >= 0 && *cost < 1e9 ? *cost : 0;
}

uint64_t plus(uint64_t total, std::optional<uint64_t> more) {
    const uint64_t add = more.value_or(0);
    return total > std::numeric_limits<uint64_t>::max() - add ? std::numeric_limits<uint64_t>::max()
                                                              : total + add;
}

std::string number(double value, const char* format) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, format, value);
    return buffer;
}

// 512 KiB, 64 MiB, 2.0 GiB.
std::string bytes_text(uint64_t bytes) {
    if (bytes >= (uint64_t{1} << 30)) {
        return number(static_cast<double>(bytes) / (1 << 30), "%.1f GiB");
    }
    return bytes >= (uint64_t{1} << 20) ? std::to_string(bytes >> 20) + " MiB"
                                        : std::to_string(bytes >> 10) + " KiB";
}

// How long an agent took; none when its times do not read or span more than any run can.
std::optional<Duration> elapsed(const std::string& from, const std::string& to) {
    WallTime start{}, end{};
    if (!parse_timestamp(from, start) || !parse_timestamp(to, end) || end < start ||
        end - start > k_max_took) {
        return std::nullopt;
    }
    return std::chrono::duration_cast<Duration>(end - start);
}

// The day a run belongs to: its start's date, else its id's.
std::string day_of(const FleetRun& run) {
    WallTime started{};
    if (run.unreadable.empty() && parse_timestamp(run.status.started_at, started)) {
        return run.status.started_at.substr(0, 10);
    }
    return run.run_id.size() >= 8 ? run.run_id.substr(0, 4) + "-" + run.run_id.substr(4, 2) + "-" +
                                        run.run_id.substr(6, 2)
                                  : "unknown";
}

struct AgentRun {
    size_t run; // index into runs
    const AgentStatus* agent;
};

// Every agent that ran, by name, in the runs' order (newest first), on a day up to `last_day`
// (a run a host dated later is listed, never charted: it would push the real days out); the
// charts' days, oldest first; at most k_max_agents agents, those with the most runs.
struct Index {
    std::map<std::string, std::vector<AgentRun>> by_agent;
    size_t agents_left_out = 0;
    std::vector<std::string> days;
    std::vector<std::string> hosts;

    Index(const std::vector<FleetRun>& runs, const std::string& last_day) {
        std::set<std::string> day_set, host_set;
        for (size_t i = 0; i < runs.size(); ++i) {
            host_set.insert(runs[i].host);
            const std::string day = day_of(runs[i]);
            if (day == "unknown" || day > last_day) {
                continue;
            }
            day_set.insert(day);
            if (!runs[i].unreadable.empty()) {
                continue;
            }
            for (const AgentStatus& agent : runs[i].status.agents) {
                if (agent.state != AgentState::pending && agent.state != AgentState::skipped) {
                    by_agent[agent.name].push_back({i, &agent});
                }
            }
        }
        if (by_agent.size() > k_max_agents) {
            std::vector<std::pair<size_t, std::string>> counts;
            for (const auto& [name, entries] : by_agent) {
                counts.emplace_back(entries.size(), name);
            }
            std::sort(counts.rbegin(), counts.rend());
            for (size_t i = k_max_agents; i < counts.size(); ++i) {
                by_agent.erase(counts[i].second);
            }
            agents_left_out = counts.size() - k_max_agents;
        }
        days.assign(day_set.begin(), day_set.end());
        if (days.size() > k_max_days) {
            days.erase(days.begin(), days.end() - static_cast<std::ptrdiff_t>(k_max_days));
        }
        hosts.assign(host_set.begin(), host_set.end());
    }
};

// Under a chart of a bar a day: every seventh day's date, and the last one's.
std::string day_labels(const std::vector<std::string>& days) {
    std::string out;
    for (size_t i = 0; i < days.size(); ++i) {
        if (i % 7 == 0 || (i + 1 == days.size() && i % 7 >= 3)) {
            out += "<text x=\"" + std::to_string(60 + i * 18) + "\" y=\"125\">" +
                   text(days[i].substr(5)) + "</text>";
        }
    }
    return out;
}

std::string run_link(size_t index, const std::string& label) {
    return "<a href=\"#run-" + std::to_string(index) + "\">" + label + "</a>";
}

std::string fleet_table(const std::vector<FleetRun>& runs, const Index& index) {
    std::string out = "<h2>Fleet</h2><table id=\"fleet\"><tr><th>host</th><th>last run</th>";
    for (const auto& [agent, entries] : index.by_agent) {
        out += "<th>" + text(agent) + "</th>";
    }
    out += "</tr>\n";
    for (const std::string& host : index.hosts) {
        const auto last = std::find_if(runs.begin(), runs.end(),
                                       [&](const FleetRun& run) { return run.host == host; });
        const auto at = static_cast<size_t>(last - runs.begin());
        const std::string state =
            last->unreadable.empty() ? to_string(last->status.state) : "unreadable";
        out += "<tr class=\"host\"><td>" + text(host) + "</td><td>" +
               run_link(at, text(last->run_id)) + " " + badge(state) + "</td>";
        for (const auto& [agent, entries] : index.by_agent) {
            const auto mine = std::find_if(entries.begin(), entries.end(), [&](const AgentRun& e) {
                return runs[e.run].host == host;
            });
            out += mine == entries.end()
                       ? "<td>-</td>"
                       : "<td class=\"outcome\">" +
                             run_link(mine->run, badge(to_string(mine->agent->state))) + "</td>";
        }
        out += "</tr>\n";
    }
    return out + "</table>\n";
}

std::string legend() {
    std::string out = "<p class=\"legend\">";
    for (const auto& [outcome, fill] : k_colours) {
        out += "<span>" + badge(outcome) + "</span>";
    }
    return out + "</p>\n";
}

// Per agent, a bar a day, stacked by outcome.
std::string outcomes_chart(const std::vector<FleetRun>& runs, const Index& index) {
    std::string out = "<h2>Outcomes per agent and day</h2><div id=\"outcomes\">" + legend();
    for (const auto& [agent, entries] : index.by_agent) {
        std::map<std::string, std::map<std::string, int>> per_day; // day -> outcome -> runs
        int most = 1;
        for (const AgentRun& entry : entries) {
            int& count = per_day[day_of(runs[entry.run])][to_string(entry.agent->state)];
            ++count;
        }
        for (const std::string& day : index.days) {
            int total = 0;
            for (const auto& [outcome, count] : per_day[day]) {
                total += count;
            }
            most = std::max(most, total);
        }
        const size_t width = 90 + index.days.size() * 18;
        out += "<h3>" + text(agent) + "</h3><svg class=\"chart outcomes\" width=\"" +
               std::to_string(width) + "\" height=\"130\" data-agent=\"" + text(agent) + "\">";
        out += "<text x=\"0\" y=\"15\">" + std::to_string(most) + " runs</text>";
        for (size_t i = 0; i < index.days.size(); ++i) {
            const std::string& day = index.days[i];
            double y = 110;
            for (const auto& [outcome, count] : per_day[day]) {
                const double height = 90.0 * count / most;
                y -= height;
                out += "<rect class=\"bar\" data-outcome=\"" + text(outcome) + "\" x=\"" +
                       std::to_string(60 + i * 18) + "\" y=\"" + number(y, "%.1f") +
                       "\" width=\"14\" height=\"" + number(height, "%.1f") + "\" fill=\"" +
                       colour(outcome) + "\"><title>" + text(day) + ": " + std::to_string(count) +
                       " " + text(outcome) + "</title></rect>";
            }
        }
        out += day_labels(index.days) + "</svg>\n";
    }
    return out + "</div>\n";
}

// Per agent, a row of dots: each run's duration on one scale.
std::string durations_chart(const std::vector<FleetRun>& runs, const Index& index) {
    Duration longest{1000};
    for (const auto& [agent, entries] : index.by_agent) {
        for (const AgentRun& entry : entries) {
            longest = std::max(
                longest,
                elapsed(entry.agent->started_at, entry.agent->finished_at).value_or(Duration{0}));
        }
    }
    const size_t height = 30 + index.by_agent.size() * 24;
    std::string out = "<h2>Durations</h2><div id=\"durations\"><svg class=\"chart durations\" "
                      "width=\"760\" height=\"" +
                      std::to_string(height) + "\">";
    out += "<text x=\"660\" y=\"12\">" + text(format_duration(longest)) + "</text>";
    size_t row = 0;
    for (const auto& [agent, entries] : index.by_agent) {
        const size_t y = 30 + row++ * 24;
        out += "<text x=\"0\" y=\"" + std::to_string(y + 4) + "\">" + text(agent, 20) + "</text>";
        for (const AgentRun& entry : entries) {
            const std::optional<Duration> took =
                elapsed(entry.agent->started_at, entry.agent->finished_at);
            if (!took) {
                continue;
            }
            const double x = 120 + 560.0 * static_cast<double>(took->count()) /
                                       static_cast<double>(longest.count());
            const std::string state = to_string(entry.agent->state);
            out += "<a href=\"#run-" + std::to_string(entry.run) +
                   "\"><circle class=\"dot\" cx=\"" + number(x, "%.1f") + "\" cy=\"" +
                   std::to_string(y) + "\" r=\"5\" fill=\"" + colour(state) +
                   "\" fill-opacity=\"0.7\"><title>" + text(runs[entry.run].host) + " " +
                   text(runs[entry.run].run_id) + ": " + text(format_duration(*took)) + ", " +
                   text(state) + "</title></circle></a>";
        }
    }
    return out + "</svg></div>\n";
}

struct Usage {
    int runs = 0;
    uint64_t input = 0, output = 0;
    double cost = 0;
};

// Tokens and cost per day and agent, and the cost per day as bars.
std::string usage_section(const std::vector<FleetRun>& runs, const Index& index) {
    std::map<std::string, std::map<std::string, Usage>> per_day; // day -> agent -> usage
    for (const auto& [agent, entries] : index.by_agent) {
        for (const AgentRun& entry : entries) {
            Usage& usage = per_day[day_of(runs[entry.run])][agent];
            ++usage.runs;
            usage.input = plus(usage.input, entry.agent->usage.input_tokens);
            usage.output = plus(usage.output, entry.agent->usage.output_tokens);
            usage.cost += cost_of(*entry.agent);
        }
    }
    std::string table = "<table id=\"usage\"><tr><th>day</th><th>agent</th><th>runs</th>"
                        "<th>input tokens</th><th>output tokens</th><th>cost (USD)</th></tr>\n";
    double most = 0.0001;
    std::map<std::string, double> day_cost;
    for (auto day = per_day.rbegin(); day != per_day.rend(); ++day) {
        for (const auto& [agent, usage] : day->second) {
            table += "<tr class=\"usage\"><td>" + text(day->first) + "</td><td>" + text(agent) +
                     "</td><td>" + std::to_string(usage.runs) + "</td><td>" +
                     std::to_string(usage.input) + "</td><td>" + std::to_string(usage.output) +
                     "</td><td>" + number(usage.cost, "%.4f") + "</td></tr>\n";
            day_cost[day->first] += usage.cost;
        }
    }
    for (const std::string& day : index.days) {
        most = std::max(most, day_cost[day]);
    }
    std::string chart = "<svg class=\"chart cost\" width=\"" +
                        std::to_string(90 + index.days.size() * 18) + "\" height=\"130\">" +
                        "<text x=\"0\" y=\"15\">$" + number(most, "%.2f") + "</text>";
    for (size_t i = 0; i < index.days.size(); ++i) {
        const double cost = day_cost[index.days[i]];
        const double height = 90.0 * cost / most;
        chart += "<rect class=\"bar\" x=\"" + std::to_string(60 + i * 18) + "\" y=\"" +
                 number(110 - height, "%.1f") + "\" width=\"14\" height=\"" +
                 number(height, "%.1f") + "\" fill=\"#1565c0\"><title>" + text(index.days[i]) +
                 ": $" + number(cost, "%.4f") + "</title></rect>";
    }
    return "<h2>Tokens and cost</h2><div id=\"usage-section\">" + chart + day_labels(index.days) +
           "</svg>\n" + table + "</table></div>\n";
}

std::string limits_text(const std::optional<AgentLimits>& limits) {
    if (!limits) {
        return "-";
    }
    if (!limits->applied) {
        return "not applied" +
               (limits->not_applied.empty() ? "" : ": " + text(limits->not_applied));
    }
    std::string out;
    if (limits->limits.memory_max) {
        out += "memory " + bytes_text(*limits->limits.memory_max) + " ";
    }
    if (limits->limits.pids_max) {
        out += "pids " + std::to_string(*limits->limits.pids_max) + " ";
    }
    if (limits->limits.cpu_max) {
        out += "cpu " + number(*limits->limits.cpu_max, "%.2f");
    }
    return out.empty() ? "applied" : out;
}

std::string confinement_text(const std::optional<Confinement>& confinement) {
    if (!confinement) {
        return "-";
    }
    return text(to_string(confinement->level)) +
           (confinement->landlock_abi > 0
                ? " (Landlock " + std::to_string(confinement->landlock_abi) + ")"
                : "") +
           (confinement->lacking.empty() ? "" : ": lacks " + text(confinement->lacking));
}

std::string confinement_table(const std::vector<FleetRun>& runs, const Index& index) {
    std::string out = "<h2>Confinement and limits</h2><table id=\"confinement\"><tr><th>host</th>"
                      "<th>agent</th><th>last run</th><th>confinement</th><th>limits</th></tr>\n";
    for (const std::string& host : index.hosts) {
        for (const auto& [agent, entries] : index.by_agent) {
            const auto mine = std::find_if(entries.begin(), entries.end(), [&](const AgentRun& e) {
                return runs[e.run].host == host;
            });
            if (mine == entries.end()) {
                continue;
            }
            out += "<tr class=\"confinement\"><td>" + text(host) + "</td><td>" + text(agent) +
                   "</td><td>" + run_link(mine->run, text(runs[mine->run].run_id)) + "</td><td>" +
                   confinement_text(mine->agent->confinement) + "</td><td>" +
                   limits_text(mine->agent->limits) + "</td></tr>\n";
        }
    }
    return out + "</table>\n";
}

std::string agent_row(const AgentStatus& agent) {
    std::string usage;
    if (agent.usage.input_tokens || agent.usage.output_tokens) {
        usage = std::to_string(agent.usage.input_tokens.value_or(0)) + " in, " +
                std::to_string(agent.usage.output_tokens.value_or(0)) + " out";
    }
    if (agent.usage.cost_usd && cost_of(agent) == *agent.usage.cost_usd) {
        usage += (usage.empty() ? "$" : ", $") + number(*agent.usage.cost_usd, "%.4f");
    }
    std::string resources;
    if (agent.resources && agent.resources->memory_peak) {
        resources += "peak " + bytes_text(*agent.resources->memory_peak) + " ";
    }
    if (agent.resources && agent.resources->cpu_seconds) {
        resources += number(*agent.resources->cpu_seconds, "%.1f") + " s CPU";
    }
    const std::optional<Duration> took = elapsed(agent.started_at, agent.finished_at);
    return "<tr class=\"agent\"><td>" + text(agent.name) + "</td><td>" +
           badge(to_string(agent.state)) + "</td><td>" +
           (agent.exit_code ? std::to_string(*agent.exit_code) : "-") + "</td><td>" +
           (took ? text(format_duration(*took)) : "-") + "</td><td>" + text(agent.reason) +
           "</td><td>" + usage + "</td><td>" + confinement_text(agent.confinement) + "</td><td>" +
           limits_text(agent.limits) + "</td><td>" + resources + "</td></tr>\n";
}

std::string run_section(const FleetRun& run, size_t index) {
    const std::string id = "run-" + std::to_string(index);
    if (!run.unreadable.empty()) {
        return "<section class=\"run unreadable\" id=\"" + id + "\"><h3>" + text(run.host) + " " +
               text(run.run_id.empty() ? "(no run id)" : run.run_id) + " " + badge("unreadable") +
               "</h3><p class=\"why\">" + text(run.unreadable) + "</p></section>\n";
    }
    const RunStatus& status = run.status;
    std::string labels;
    for (const auto& [key, value] : status.labels) {
        labels += (labels.empty() ? "" : ", ") + text(key) + "=" + text(value);
    }
    std::string out = "<section class=\"run\" id=\"" + id + "\"><h3>" + text(run.host) + " " +
                      text(run.run_id) + " " + badge(to_string(status.state)) + "</h3><p>exit " +
                      (status.exit_code ? std::to_string(*status.exit_code) : "-") + ", started " +
                      text(status.started_at) +
                      (status.finished_at.empty() ? "" : ", finished " + text(status.finished_at)) +
                      (labels.empty() ? "" : "; labels: " + labels) + "</p>";
    out += "<table class=\"agents\"><tr><th>agent</th><th>outcome</th><th>exit</th><th>took</th>"
           "<th>reason</th><th>usage</th><th>confinement</th><th>limits</th><th>resources</th>"
           "</tr>\n";
    for (const AgentStatus& agent : status.agents) {
        out += agent_row(agent);
    }
    out += "</table>";
    for (const auto& [agent, stat] : run.diffstat) {
        out += "<p>" + text(agent) + " changed:</p><pre class=\"diffstat\">" + html_block(stat) +
               "</pre>";
    }
    for (const auto& [agent, tail] : run.log_tail) {
        out += "<details><summary>" + text(agent) +
               ": the log's last lines</summary>"
               "<pre class=\"log\">" +
               html_block(tail) + "</pre></details>";
    }
    return out + "</section>\n";
}

} // namespace

std::string fleet_html(const std::vector<FleetRun>& runs, const std::string& generated_at,
                       const std::string& title) {
    WallTime now{};
    const std::string last_day = parse_timestamp(generated_at, now)
                                     ? format_timestamp(now + std::chrono::hours(24)).substr(0, 10)
                                     : "9999-12-31";
    const Index index(runs, last_day);
    const auto unreadable = std::count_if(
        runs.begin(), runs.end(), [](const FleetRun& run) { return !run.unreadable.empty(); });
    std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                      "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\"><title>" +
                      text(title) + "</title><style>" + k_style + "</style></head><body>\n<h1>" +
                      text(title) + "</h1><p id=\"summary\">" + std::to_string(index.hosts.size()) +
                      " hosts, " + std::to_string(runs.size()) + " runs (" +
                      std::to_string(unreadable) + " unreadable); generated " + text(generated_at) +
                      (index.agents_left_out == 0
                           ? std::string()
                           : "; " + std::to_string(index.agents_left_out) +
                                 " agents with the fewest runs left out of the tables and charts") +
                      "</p>\n";
    out += fleet_table(runs, index) + outcomes_chart(runs, index) + durations_chart(runs, index) +
           usage_section(runs, index) + confinement_table(runs, index) +
           "<h2>Runs</h2><div id=\"runs\">";
    for (size_t i = 0; i < runs.size(); ++i) {
        out += run_section(runs[i], i);
    }
    return out + "</div></body></html>\n";
}

} // namespace fleet
