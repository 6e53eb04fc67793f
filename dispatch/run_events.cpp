#include "dispatch/run_events.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace fleet {

namespace {

// The agents' names, `between` each ("a,b"); with `pair_with`, each with its state
// ("a:succeeded,b:failed" for the message, "a=succeeded b=failed" for the field).
std::string agents_text(const RunStatus& status, char between, char pair_with) {
    std::string text;
    for (const AgentStatus& agent : status.agents) {
        if (!text.empty()) {
            text += between;
        }
        text += agent.name;
        if (pair_with != 0) {
            text += pair_with;
            text += to_string(agent.state);
        }
    }
    return text;
}

// "ticket=OPS-7 note=\"a b\"": each value a logfmt value, so none can pose as another key.
std::string labels_text(const RunStatus& status, const std::string& key_prefix) {
    std::string text;
    for (const auto& [key, value] : status.labels) {
        text +=
            (text.empty() ? "" : " ") + key_prefix + log_text(key, 64) + "=" + logfmt_value(value);
    }
    return text;
}

// Seconds from started_at to finished_at (or `now`), "12.3"; "" when started_at is unreadable.
std::string duration_seconds(const RunStatus& status, WallTime now) {
    WallTime start, end = now;
    if (!parse_timestamp(status.started_at, start) ||
        (!status.finished_at.empty() && !parse_timestamp(status.finished_at, end))) {
        return "";
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", std::chrono::duration<double>(end - start).count());
    return text;
}

Severity end_severity(RunState state) {
    switch (state) {
    case RunState::succeeded:
        return Severity::info;
    case RunState::cancelled:
        return Severity::notice;
    case RunState::failed:
    case RunState::timed_out:
        return Severity::warning;
    default:
        return Severity::err; // lost, or still "running": the runner did not finish
    }
}

// " key=value" for the message, nothing when the value is empty.
std::string pair(const char* key, const std::string& value) {
    return value.empty() ? "" : std::string(" ") + key + "=" + value;
}

} // namespace

LogEvent run_start_event(const RunStatus& status, const RunEventContext& context) {
    LogEvent event;
    event.severity = Severity::info;
    const std::string labels = labels_text(status, "label.");
    event.message = "run " + log_text(status.run_id, 64) + " start" +
                    pair("task", logfmt_value(context.task)) +
                    pair("agents", logfmt_value(agents_text(status, ',', 0))) +
                    pair("user", logfmt_value(context.user)) + (labels.empty() ? "" : " ") + labels;
    event.fields = {{"FLEET_EVENT", "start"},
                    {"FLEET_RUN_ID", status.run_id},
                    {"FLEET_TASK", context.task},
                    {"FLEET_USER", context.user},
                    {"FLEET_AGENTS", agents_text(status, ',', 0)},
                    {"FLEET_LABELS", labels_text(status, "")}};
    return event;
}

LogEvent run_end_event(const RunStatus& status, const RunEventContext& context, WallTime now) {
    LogEvent event;
    event.severity = end_severity(status.state);
    const std::string outcome = to_string(status.state);
    const std::string exit_code =
        status.exit_code ? std::to_string(*status.exit_code) : std::string("none");
    const std::string seconds = duration_seconds(status, now);
    const std::string labels = labels_text(status, "label.");
    event.message = "run " + log_text(status.run_id, 64) + " end outcome=" + outcome +
                    " exit=" + exit_code + pair("duration", seconds.empty() ? "" : seconds + "s") +
                    pair("agents", logfmt_value(agents_text(status, ',', ':'))) +
                    pair("task", logfmt_value(context.task)) +
                    pair("user", logfmt_value(context.user)) +
                    pair("reason", context.reason.empty() ? "" : logfmt_value(context.reason)) +
                    (labels.empty() ? "" : " ") + labels;
    // The fields a filter needs come first: they are kept whatever else does not fit.
    event.fields = {{"FLEET_EVENT", "end"},
                    {"FLEET_RUN_ID", status.run_id},
                    {"FLEET_OUTCOME", outcome},
                    {"FLEET_EXIT_CODE", exit_code},
                    {"FLEET_DURATION_SECONDS", seconds},
                    {"FLEET_TASK", context.task},
                    {"FLEET_USER", context.user},
                    {"FLEET_AGENTS", agents_text(status, ',', 0)},
                    {"FLEET_AGENT_STATES", agents_text(status, ' ', '=')}};
    if (!context.reason.empty()) {
        event.fields.push_back({"FLEET_REASON", context.reason});
    }
    event.fields.push_back({"FLEET_LABELS", labels_text(status, "")});
    return event;
}

std::string emit_run_event(RunEventsMode mode, const LogEvent& event, pid_t pid) {
    if (mode == RunEventsMode::off) {
        return "";
    }
    const LogOutcome sent = send_log_event(event, k_log_ident, pid);
    if (sent.sink != LogSink::nowhere) {
        return "";
    }
    return std::string(sent.error == EAGAIN ? "the log is busy" : "no log took it") + ": " +
           std::strerror(sent.error);
}

} // namespace fleet
