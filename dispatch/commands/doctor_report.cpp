#include "dispatch/commands/doctor_report.hpp"

#include <cstring>

#include <nlohmann/json.hpp>

#include "base/untrusted_text.hpp"
#include "runner/status.hpp"
#include "sys/host.hpp"
#include "sys/io.hpp"
#include "sys/version.hpp"

namespace fleet {

namespace {

constexpr size_t k_check_column = 14; // where the detail starts after the check's name

} // namespace

const char* to_string(Level level) {
    switch (level) {
    case Level::ok:
        return "ok";
    case Level::warn:
        return "warn";
    case Level::fail:
        break;
    }
    return "fail";
}

std::string report_json(const std::vector<Finding>& findings, const std::string& host,
                        const std::string& version) {
    // ordered_json: the keys in the order documented, host first, for whoever reads the journal.
    nlohmann::ordered_json checks = nlohmann::ordered_json::array();
    bool ok = true;
    for (const Finding& finding : findings) {
        ok = ok && finding.level != Level::fail;
        nlohmann::ordered_json check = {{"level", to_string(finding.level)},
                                        {"check", finding.check},
                                        {"message", finding.detail},
                                        {"fix", nullptr}};
        if (!finding.fix.empty()) {
            check["fix"] = finding.fix;
        }
        checks.push_back(std::move(check));
    }
    const nlohmann::ordered_json document = {
        {"host", host}, {"version", version}, {"ok", ok}, {"checks", std::move(checks)}};
    // ASCII only, and bytes that are not UTF-8 replaced instead of thrown about: what the host
    // holds (a file name, a unit's text) cannot break the line or the log shipper behind it.
    return document.dump(-1, ' ', true, nlohmann::ordered_json::error_handler_t::replace);
}

void Report::add(Level level, const std::string& check, const std::string& detail,
                 const std::string& fix) {
    m_findings.push_back({level, check, detail, fix});
    if (m_format == ReportFormat::json) {
        return;
    }
    const char* word = to_string(level);
    std::string line = std::string(word) + std::string(5 - std::strlen(word), ' ') + check;
    line += std::string(check.size() < k_check_column ? k_check_column - check.size() : 1, ' ') +
            escape_untrusted(detail, LineBreaks::escaped);
    if (!fix.empty()) {
        line += "; fix: " + fix;
    }
    write_all(m_fd, line + "\n");
}

int Report::finish() const {
    if (m_format == ReportFormat::json) {
        write_all(m_fd, report_json(m_findings, host_name(), version()) + "\n");
    }
    return exit_code();
}

int Report::exit_code() const {
    for (const Finding& finding : m_findings) {
        if (finding.level == Level::fail) {
            return k_exit_agent_failed;
        }
    }
    return k_exit_ok;
}

} // namespace fleet
