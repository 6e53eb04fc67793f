#include "guard/diag/commands.hpp"

namespace fleet {

namespace {

// What `systemctl status UNIT` answers with: state, not processes (no command line is among
// these properties).
constexpr const char* k_status_properties =
    "--property=Id,Description,LoadState,FragmentPath,UnitFileState,ActiveState,SubState,"
    "ActiveEnterTimestamp,Result,MainPID,ExecMainCode,ExecMainStatus,NRestarts,TasksCurrent,"
    "MemoryCurrent,CPUUsageNSec";

} // namespace

std::vector<std::string> diag_tool_argv(const DiagPolicy& policy, const DiagRequest& request) {
    const std::string tool = policy.tools.at(diag_command_name(request));
    const std::string lines = std::to_string(request.lines.value_or(k_default_tool_lines));
    switch (request.command) {
    case DiagCommand::systemctl: {
        // status answers with the unit's state as properties: systemctl's own status page
        // prints the unit's process tree, each process's full command line in it.
        const bool status = request.verb == "status";
        std::vector<std::string> argv{tool, "--no-pager", "--no-ask-password",
                                      status ? "show" : request.verb};
        if (status) {
            argv.emplace_back(k_status_properties);
        }
        if (request.verb == "list-units") {
            if (request.failed_only) {
                argv.emplace_back("--failed");
            }
            if (!request.unit_type.empty()) {
                argv.push_back("--type=" + request.unit_type);
            }
        } else if (request.verb != "list-timers") {
            argv.emplace_back("--");
            argv.insert(argv.end(), request.units.begin(), request.units.end());
        }
        return argv;
    }
    case DiagCommand::journalctl: {
        std::vector<std::string> argv{tool, "--no-pager", "--quiet", "--lines=" + lines};
        for (const std::string& unit : request.units) {
            argv.push_back("--unit=" + unit);
        }
        const std::pair<const char*, const std::string*> values[] = {
            {"--since=", &request.since},
            {"--until=", &request.until},
            {"--priority=", &request.priority},
            {"--output=", &request.output_format}};
        for (const auto& [option, value] : values) {
            if (!value->empty()) {
                argv.push_back(option + *value);
            }
        }
        if (request.this_boot) {
            argv.emplace_back("--boot=0");
        }
        if (request.no_hostname) {
            argv.emplace_back("--no-hostname");
        }
        return argv;
    }
    case DiagCommand::df:
    case DiagCommand::free:
        return {tool, "-h"};
    case DiagCommand::uptime:
        return {tool};
    case DiagCommand::ps:
        return {tool, "-eo", "pid,ppid,user,%cpu,%mem,etime,stat,comm"};
    case DiagCommand::ss:
        return {tool, "-tlnu"};
    case DiagCommand::container_ps:
        return {tool, "ps", "--format", "table {{.Names}}\\t{{.Image}}\\t{{.Status}}"};
    case DiagCommand::container_logs: {
        std::vector<std::string> argv{tool, "logs", "--tail", lines};
        if (!request.since.empty()) {
            argv.insert(argv.end(), {"--since", request.since});
        }
        argv.insert(argv.end(), {"--", request.container});
        return argv;
    }
    default:
        return {};
    }
}

} // namespace fleet
