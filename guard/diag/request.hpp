// fleet-diag's request: the words of one request (sshd's SSH_ORIGINAL_COMMAND split by our own
// tokeniser, tokenizer.hpp, or the words after `--`) parsed into a typed request. Nothing of
// the string reaches a tool as written: the tools' argv are built from the typed request
// (commands.hpp).
//
// Grammar (options are whole words from each command's exact list, before any operand):
//   systemctl status|is-active|is-enabled|is-failed UNIT...   (no .slice or .scope unit)
//   systemctl list-units [--failed] [--type=TYPE]        systemctl list-timers
//   journalctl [-u UNIT]... [-n N] [--since T] [--until T] [-p PRIO] [-b]
//              [-o short|short-iso|cat] [--no-hostname]
//   cat PATH     head [-n N] PATH     tail [-n N] PATH     ls [-l] [-a] PATH     stat PATH
//   df   free   uptime   ps   ss -tlnu
//   docker|podman ps      docker|podman logs [--tail N] [--since T] NAME
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sys/result.hpp"

namespace fleet {

enum class DiagCommand {
    systemctl,
    journalctl,
    cat,
    head,
    tail,
    ls,
    stat,
    df,
    free,
    uptime,
    ps,
    ss,
    container_ps,
    container_logs,
};

struct DiagRequest {
    DiagCommand command = DiagCommand::df;
    std::string verb;               // systemctl's verb; "docker" or "podman" for containers
    std::vector<std::string> units; // systemctl operands; journalctl -u
    bool failed_only = false;       // list-units --failed
    std::string unit_type;          // list-units --type=
    std::optional<unsigned> lines;  // -n N, --tail N
    std::string since, until;       // journalctl, container logs
    std::string priority;           // journalctl -p
    bool this_boot = false;         // journalctl -b
    std::string output_format;      // journalctl -o
    bool no_hostname = false;       // journalctl --no-hostname
    bool long_format = false;       // ls -l
    bool all = false;               // ls -a
    std::string path;               // file commands
    std::string container;          // logs NAME
};

inline constexpr unsigned k_max_diag_lines = 10000;

Result<DiagRequest> parse_diag_request(const std::vector<std::string>& words);

// "systemctl", "journalctl", "cat", ... ("docker"/"podman" for containers): the first word, as
// the policy's `commands` list names it.
std::string diag_command_name(const DiagRequest& request);

// True for cat, head, tail, ls, stat: answered by fleet-diag itself from an fd.
bool is_file_command(DiagCommand command);

// The typed request, for the audit line.
nlohmann::json diag_request_json(const DiagRequest& request);

// The text an empty request prints: the grammar above.
std::string diag_usage();

} // namespace fleet
