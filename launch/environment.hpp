// The environment a dropped command gets: built from an allowlist, never inherited wholesale.
//
// After a root -> user drop the kernel sets no AT_SECURE, so ld.so would honour an inherited
// LD_PRELOAD, and interpreters honour NODE_OPTIONS, PYTHONPATH, BASH_ENV, GIT_*
// (docs/design/privilege-drop.md §3). So the result holds only:
//   HOME, USER, LOGNAME, SHELL   from the passwd entry (never root's HOME);
//   PATH                         default_path(home): the user's ~/.local/bin first;
//   TERM, LANG, LC_*, TZ         passed through from the caller when set;
//   --pass-env NAME              the caller's value, when set;
//   --env NAME=VALUE             as given; wins over everything above (an explicit operator
//                                choice, so --env PATH=… replaces the default PATH).
// Everything else is dropped: LD_*, NODE_OPTIONS, PYTHONPATH, BASH_ENV, ENV, IFS, GIT_*, AWS
// credentials, SSM's AWS_SSM_* and SSM_COMMAND_ID. The result is sorted by name.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "launch/identity.hpp"
#include "sys/result.hpp"

namespace fleet {

struct EnvironmentRequest {
    std::vector<std::pair<std::string, std::string>> set; // --env NAME=VALUE
    std::vector<std::string> pass;                        // --pass-env NAME
};

// "<home>/.local/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin".
std::string default_path(const std::string& home);

// A variable name: [A-Za-z_][A-Za-z0-9_]*.
bool is_valid_env_name(const std::string& name);

// Splits "NAME=VALUE" for --env; invalid_input when there is no '=' or NAME is not valid.
Result<std::pair<std::string, std::string>> parse_env_assignment(const std::string& text);

// Builds the environment as "NAME=VALUE" strings. `caller_env` is a null-terminated array
// such as `environ`. Fails (invalid_input) on an invalid name in `request`.
Result<std::vector<std::string>> build_environment(const Identity& identity,
                                                   const char* const* caller_env,
                                                   const EnvironmentRequest& request);

} // namespace fleet
