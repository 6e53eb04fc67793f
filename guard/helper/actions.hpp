// What fleet-helper runs for an allowed request: argv built here from the typed request, never
// from the caller's words, with "--" before the only operand; and an environment built from
// nothing (docs/design/restricted-channels.md §2 rule 4, §5).
//
//   service ACTION NAME   SYSTEMCTL --no-pager ACTION -- NAME
//   package install NAME  APT_GET -y --no-remove -o Dpkg::Options::=--force-confdef
//                                 -o Dpkg::Options::=--force-confold install -- NAME
//   package remove NAME   APT_GET -y remove -- NAME
//   package update        APT_GET -y update
//   package upgrade       APT_GET -y -o Dpkg::Options::=--force-confdef
//                                 -o Dpkg::Options::=--force-confold upgrade
//
// --force-confdef/--force-confold keep changed conffiles instead of prompting: a prompt with
// stdin /dev/null would fail the action, and a hang would hold it to its timeout.
#pragma once

#include <string>
#include <vector>

#include "guard/helper/policy.hpp"
#include "guard/helper/request.hpp"

namespace fleet {

// Precondition: decide(policy, request).allowed.
std::vector<std::string> action_argv(const HelperPolicy& policy, const Request& request);

// The simulation of a package action (transaction.hpp): APT_GET -s [--no-remove] ACTION
// [-- NAME]. Empty for update, which changes no package.
std::vector<std::string> simulation_argv(const HelperPolicy& policy, const Request& request);

// The unit's id and every other name it answers to (aliases), one line each:
// SYSTEMCTL --no-pager show --property=Id --property=Names --value -- NAME
std::vector<std::string> unit_names_argv(const HelperPolicy& policy, const std::string& unit);

// tool_environment() (tools.hpp), and apt and debconf non-interactive.
std::vector<std::string> action_environment();

} // namespace fleet
