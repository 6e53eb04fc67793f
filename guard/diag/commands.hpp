// The argv fleet-diag builds for the external tools, from the typed request only: fixed options
// first (--no-pager everywhere systemd reads it), values attached to their option where the
// tool allows it, and "--" before operands. Defaults bound the output: journalctl -n 200,
// container logs --tail 200.
//
//   systemctl --no-pager --no-ask-password show --property=<state properties> -- UNIT...
//                                                     (status: never the process tree)
//   systemctl --no-pager --no-ask-password is-active|is-enabled|is-failed -- UNIT...
//   systemctl --no-pager --no-ask-password list-units [--failed] [--type=TYPE]
//   systemctl --no-pager --no-ask-password list-timers
//   journalctl --no-pager --quiet --lines=N [--unit=U]... [--since=T] [--until=T]
//              [--priority=P] [--boot=0] [--output=F] [--no-hostname]
//   df -h   free -h   uptime   ps -eo pid,ppid,user,%cpu,%mem,etime,stat,comm   ss -tlnu
//   docker|podman ps --format "table {{.Names}}\t{{.Image}}\t{{.Status}}"
//   docker|podman logs --tail N [--since T] -- NAME
//
// ps shows comm, never args: other processes' command lines carry secrets often enough. For
// the same reason status is answered from `systemctl show` (systemctl status prints the
// unit's cgroup tree with every command line), slices and scopes are refused, and journalctl
// has no json, export or verbose output (_CMDLINE).
#pragma once

#include <string>
#include <vector>

#include "guard/diag/policy.hpp"
#include "guard/diag/request.hpp"

namespace fleet {

inline constexpr unsigned k_default_tool_lines = 200;

// Precondition: !is_file_command(request.command).
std::vector<std::string> diag_tool_argv(const DiagPolicy& policy, const DiagRequest& request);

} // namespace fleet
