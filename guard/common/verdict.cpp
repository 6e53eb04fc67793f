#include "guard/common/verdict.hpp"

#include <unistd.h>

#include "base/clock.hpp"
#include "base/untrusted_text.hpp"

namespace fleet {

const char* decision_name(Decision decision) {
    switch (decision) {
    case Decision::allowed:
        return "allowed";
    case Decision::refused:
        return "refused";
    case Decision::totp_refused:
        return "totp_refused";
    case Decision::usage_error:
        return "usage_error";
    case Decision::usage:
        return "usage";
    case Decision::failed:
        return "failed";
    }
    return "failed";
}

Verdict refusal_verdict(int exit_code, Decision decision, const std::string& reason) {
    return Verdict{exit_code, decision, escape_untrusted(reason, LineBreaks::escaped)};
}

nlohmann::json audit_fields(const Verdict& verdict, std::chrono::steady_clock::time_point started) {
    const auto duration = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    return {{"time", format_timestamp(std::chrono::system_clock::now())},
            {"pid", ::getpid()},
            {"uid", ::getuid()},
            {"decision", decision_name(verdict.decision)},
            {"reason", verdict.reason},
            {"duration_ms", duration.count()}};
}

} // namespace fleet
