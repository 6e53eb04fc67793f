// What `dispatch doctor` checks share: its report (doctor_report.hpp) and the checks of the
// host beyond the config and the user (doctor_host.cpp): the SSM agent's unit and the limits a
// run can get. Tested end to end (tests/integration/operate_doctor.cpp): the checks read the
// host as root, its cgroups included.
#pragma once

#include <chrono>
#include <string>

#include "dispatch/commands/doctor_report.hpp"
#include "dispatch/config.hpp"

namespace fleet {

constexpr std::chrono::milliseconds k_probe_timeout{10'000};

// The unit as systemd would see it: `systemctl cat`, else its files and drop-ins in order.
std::string unit_text(const std::string& unit);

// ssm-agent: Restart=always (a crashed agent stays down otherwise) and its OOMScoreAdjust,
// which every process SSM starts inherits, beside what the agents get (config oom_score_adj).
void check_ssm_agent(const Config& config, Report& report);

// cgroups (mode, controllers, whether a run can make its cgroups: probed as root with a
// throwaway tree), systemd (PID 1 or not, delegation), limits = "off".
void check_limits(const Config& config, bool as_root, Report& report);

} // namespace fleet
