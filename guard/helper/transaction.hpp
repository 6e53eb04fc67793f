// What an apt transaction would do, judged before it runs. A protected-package check on the
// requested name alone is not enough: removing openssh-client removes openssh-server with it,
// installing sudo-ldap removes sudo. So every package action but update is simulated first
// (`apt-get -s`, which changes nothing), and refused when the simulation
//   - fails (an install that would need a removal fails under --no-remove), or
//   - would remove a protected package, or
//   - would remove anything but the named package (remove NAME) or anything at all (install,
//     upgrade).
// Installs also run with --no-remove, so what apt decides between the simulation and the run
// cannot remove anything either.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "guard/helper/policy.hpp"
#include "guard/helper/request.hpp"
#include "sys/result.hpp"

namespace fleet {

// The packages a simulation would remove: NAME of each "Remv NAME[:ARCH] [VERSION]" (or "Purg")
// line.
std::vector<std::string> simulated_removals(std::string_view output);

// Whether `request` (a package action) may go on, given what its simulation would remove.
// An invalid_input Error names what would be removed and why that is refused.
Status judge_removals(const HelperPolicy& policy, const Request& request,
                      const std::vector<std::string>& removals);

} // namespace fleet
