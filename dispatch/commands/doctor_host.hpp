// What `dispatch doctor` checks share: its report (one line per check) and the checks of the
// host beyond the config and the user (doctor_host.cpp): the SSM agent's unit and the limits a
// run can get. Tested end to end (tests/integration/operate_doctor.cpp): the checks read the
// host as root, its cgroups included.
#pragma once

#include <chrono>
#include <cstring>
#include <string>

#include "base/untrusted_text.hpp"
#include "dispatch/config.hpp"
#include "runner/status.hpp"
#include "sys/io.hpp"

namespace fleet {

constexpr std::chrono::milliseconds k_probe_timeout{10'000};

enum class Level { ok, warn, fail };

class Report {
public:
    // `detail` may name what the user chose (a file in its tree, an agent's --version answer):
    // it is escaped, one line.
    void add(Level level, const std::string& check, const std::string& detail,
             const std::string& fix = "") {
        const char* word = level == Level::ok ? "ok" : level == Level::warn ? "warn" : "fail";
        std::string line = std::string(word) + std::string(5 - std::strlen(word), ' ') + check;
        line += std::string(check.size() < 14 ? 14 - check.size() : 1, ' ') +
                escape_untrusted(detail, LineBreaks::escaped);
        if (!fix.empty()) {
            line += "; fix: " + fix;
        }
        write_all(1, line + "\n");
        m_failed = m_failed || level == Level::fail;
    }
    int exit_code() const { return m_failed ? k_exit_agent_failed : k_exit_ok; }

private:
    bool m_failed = false;
};

// The unit as systemd would see it: `systemctl cat`, else its files and drop-ins in order.
std::string unit_text(const std::string& unit);

// ssm-agent: Restart=always (a crashed agent stays down otherwise) and its OOMScoreAdjust,
// which every process SSM starts inherits, beside what the agents get (config oom_score_adj).
void check_ssm_agent(const Config& config, Report& report);

// cgroups (mode, controllers, whether a run can make its cgroups: probed as root with a
// throwaway tree), systemd (PID 1 or not, delegation), limits = "off".
void check_limits(const Config& config, bool as_root, Report& report);

} // namespace fleet
