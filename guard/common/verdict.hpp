// The skeleton both guard programs (fleet-helper, fleet-diag) share. Each main, in this order:
//
//   harden the process (tools.hpp harden_guard_process, and its own steps)   before anything
//   parse; load the policy; open the audit log (audit.hpp)                   failures become
//                                                                             refusals, never
//                                                                             an early exit
//   serve_guarded(serve)        an exception becomes a `failed` verdict: still audited, answered
//   AuditSinks::write(line)     the record first (syslog and the file), from audit_fields()
//   answer                      stdout: the helper's JSON object, fleet-diag's escaped output
//
// so every request, refused, failed or served, leaves exactly one record before its answer
// (the helper adds a "start" record before an action runs: an action never runs unrecorded).
#pragma once

#include <chrono>
#include <exception>
#include <string>

#include <nlohmann/json.hpp>

namespace fleet {

// What the guard decided about a request, as its audit line names it.
enum class Decision {
    allowed,      // served (the action may still have failed: see the exit code)
    refused,      // by the grammar, the policy, or a check before acting
    totp_refused, // fleet-helper: a TOTP code missing, wrong or replayed
    usage_error,  // fleet-helper: the request did not parse
    usage,        // fleet-diag: an empty request, answered with the usage
    failed,       // could not be served (a tool would not start, an internal error)
};

const char* decision_name(Decision decision);

// The part of an outcome both programs record: their own Outcome derives from it.
struct Verdict {
    int exit_code = 0;
    Decision decision = Decision::allowed;
    std::string reason; // one line, escaped (untrusted_text.hpp): it may quote the caller

    bool allowed() const { return decision == Decision::allowed; }
};

// A verdict other than allowed, its reason escaped, line breaks too (it is one line on stderr
// and in the answer).
Verdict refusal_verdict(int exit_code, Decision decision, const std::string& reason);

// The fields every audit line has: time, pid, uid, decision, reason, duration_ms since
// `started`. The program adds its own (request, argv, key, ...).
nlohmann::json audit_fields(const Verdict& verdict, std::chrono::steady_clock::time_point started);

// Runs `serve`; if it throws (out of memory, a library bug), the outcome is what `fail` makes of
// "internal error: <what>", so the request is still audited and answered.
template <typename Serve, typename Fail>
auto serve_guarded(Serve&& serve, Fail&& fail) -> decltype(serve()) {
    try {
        return serve();
    } catch (const std::exception& e) {
        return fail(std::string("internal error: ") + e.what());
    }
}

} // namespace fleet
