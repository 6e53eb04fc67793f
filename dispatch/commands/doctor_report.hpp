// What `dispatch doctor` reports (docs/dispatch.md, "doctor"): one finding per check, as text
// lines while the checks run, or with --json as one JSON object once they are done.
//
// Text, one line per finding, written to the report's fd as it is added:
//   ok|warn|fail  CHECK  what was found[; fix: what to do]
// the detail escaped (base/untrusted_text.hpp), so a file name or an agent's --version answer
// can neither break the line nor reach a terminal as a control sequence.
//
// JSON, one line written by finish() (what the guardian's unit logs to the journal):
//   {"host":H,"version":V,"ok":BOOL,"checks":[{"level":"ok|warn|fail","check":NAME,
//    "message":TEXT,"fix":TEXT|null},...]}
// in the order the checks ran; "ok" is false when a finding failed. The detail is kept as it was
// found, JSON-escaped: control characters as \uXXXX, everything outside ASCII too, and bytes
// that are not UTF-8 replaced by U+FFFD, so what the host holds can never make it invalid or
// make the dump throw.
#pragma once

#include <string>
#include <vector>

namespace fleet {

enum class Level { ok, warn, fail };

enum class ReportFormat { text, json };

struct Finding {
    Level level = Level::ok;
    std::string check;
    std::string detail;
    std::string fix; // empty: none
};

// "ok", "warn" or "fail".
const char* to_string(Level level);

// The JSON object above, without a newline.
std::string report_json(const std::vector<Finding>& findings, const std::string& host,
                        const std::string& version);

class Report {
public:
    // `fd` is where the report goes (doctor: 1, stdout); it is not owned.
    explicit Report(ReportFormat format = ReportFormat::text, int fd = 1)
        : m_format(format), m_fd(fd) {}

    // Text: writes the finding's line now. JSON: keeps it for finish().
    void add(Level level, const std::string& check, const std::string& detail,
             const std::string& fix = "");

    // JSON: writes the object (this host's name, this build's version) and a newline; text:
    // nothing more. Returns exit_code().
    int finish() const;

    // k_exit_ok when no finding failed (warnings allowed), else k_exit_agent_failed (1).
    int exit_code() const;

    const std::vector<Finding>& findings() const { return m_findings; }

private:
    ReportFormat m_format;
    int m_fd;
    std::vector<Finding> m_findings;
};

} // namespace fleet
