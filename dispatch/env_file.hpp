// env_file: the secrets an agent needs (API keys), as KEY=VALUE lines, read by root before the
// privilege drop so the agent user itself cannot read the file.
//
// Format: one KEY=VALUE per line; blank lines and lines starting with '#' are skipped; an
// optional "export " prefix is accepted; a VALUE in matching single or double quotes loses them
// (nothing else is interpreted: no escapes, no ${expansion}). A bad line is an error that names
// the file and line number, never the value.
// As root the file must be owned by root and not readable, writable or executable by others,
// and every directory above it root's and not writable by group or others, or sticky
// (trusted_file.hpp).
// Values reach agents only through their environment: never argv, run.json, status.json, the
// runner's log or `dispatch config`.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sys/result.hpp"

namespace fleet {

using EnvPairs = std::vector<std::pair<std::string, std::string>>;

// Parses the text of an env file; `source` names it in errors.
Result<EnvPairs> parse_env_file(std::string_view text, const std::string& source);

// Opens, checks (as root: ownership and mode) and parses an env file.
Result<EnvPairs> read_env_file(const std::string& path, bool as_root);

} // namespace fleet
