// The HTML page `dispatch report` writes (docs/watching-a-fleet.md): one self-contained file,
// inline CSS and SVG, no script, nothing fetched (its Content-Security-Policy forbids both, so
// a browser would refuse even what an escape missed). Sections, each with an id the browser
// test looks for:
//   #fleet        a row per host (tr.host): its last run and, per agent, that agent's last
//                 outcome, linked to the run
//   #outcomes     per agent, runs per day stacked by outcome (svg.outcomes, rect.bar)
//   #durations    per agent, each run's duration as a dot (svg.durations, circle.dot)
//   #usage        tokens and cost per day and agent (table), cost per day (svg.cost)
//   #confinement  per host and agent, the last run's confinement level and limits
//   #runs         per run (section.run, id run-N): state, labels, per agent its outcome, reason,
//                 usage, resources, diffstat and log tail; an unreadable run says why
// Every text that came from a host or an agent is escaped (html_text.hpp), so `<script>` in a
// log shows as text.
#pragma once

#include <string>
#include <vector>

#include "dispatch/fleet_runs.hpp"

namespace fleet {

// `runs` newest first (fleet_runs.hpp); `generated_at` an RFC 3339 time; `title` the page's.
std::string fleet_html(const std::vector<FleetRun>& runs, const std::string& generated_at,
                       const std::string& title);

} // namespace fleet
