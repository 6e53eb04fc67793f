// `dispatch agents` and `dispatch config`: what this host would run, before running it.
//   agents  one line per agent: its kind (built-in adapter or config command), the binary it
//           resolves in the agents' PATH, what `BINARY --version` answers (5 s at most, as the
//           target user), and whether it is enabled (found). Exit 0.
//   config  the effective configuration as TOML, with every env_file value and every env value
//           whose name suggests a secret (KEY, TOKEN, SECRET, PASSWORD, CREDENTIAL) shown as
//           <redacted>. Exit 0.
#pragma once

#include "session.hpp"

namespace fleet {

int list_agents(const Session& session);
int show_config(const Session& session);

} // namespace fleet
