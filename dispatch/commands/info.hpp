// `dispatch agents` and `dispatch config`: what this host would run, before running it.
//   agents  one line per agent: its kind (built-in adapter or config command), the binary it
//           resolves in the agents' PATH, what `BINARY --version` answers (5 s at most, as the
//           target user), and whether it is enabled (found). Exit 0.
//   config  the effective configuration as TOML, with every env_file value and every env value
//           whose name suggests a secret (KEY, TOKEN, SECRET, PASSWORD, CREDENTIAL) shown as
//           <redacted>. Exit 0.
//
// Tested end to end (tests/integration/agents_test.cpp, dispatch_*.cpp): the output of the
// built dispatch after its privilege drop; the agent table has its own unit test.
#pragma once

#include <optional>
#include <string>

#include "dispatch/config.hpp"
#include "dispatch/session.hpp"
#include "launch/identity.hpp"

namespace fleet {

// What `dispatch agents` and `dispatch doctor` learn of one agent.
struct AgentProbe {
    std::string program;                // what the config names (a name or a path)
    std::string binary;                 // where it resolves in the agents' PATH; empty: nowhere
    std::optional<std::string> version; // the first line of `BINARY --version`
    std::string version_error;          // why there is none, when the binary was found
};

// Resolves `agent`'s program on the agents' PATH and asks it for --version: 5 s at most, in
// `user`'s home, with the agents' environment, and as `user`: when the caller is root (doctor),
// the probe's child drops to the user with no_new_privs and verifies it before exec, so root
// never runs a program from a directory the user controls (probe.hpp).
AgentProbe probe_agent(const Config& config, const Identity& user, const AgentConfig& agent);

int list_agents(const Session& session);
int show_config(const Session& session);

} // namespace fleet
