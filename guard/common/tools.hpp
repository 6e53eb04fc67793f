// What every external tool the guard programs run gets: an environment built from nothing, and
// a check that the executable is one only root could have put there.
#pragma once

#include <string>
#include <vector>

#include "sys/result.hpp"

namespace fleet {

// PATH fixed; pagers off and secure (systemd/systemd#5666, CVE-2023-26604); no colours, a dumb
// terminal, C.UTF-8 (docs/design/restricted-channels.md §5). Nothing of the caller's.
std::vector<std::string> tool_environment();

// What both guard programs do first, against the state their caller hands down: standard fds
// opened on /dev/null where closed (else a log could be opened as fd 1 and receive the answer),
// SIGPIPE ignored (a reader that left must not cut the audit line short), umask 077, not
// dumpable (no ptrace, no core), no core files. False, errno set, when a step fails.
bool harden_guard_process();

// `path` opened O_NOFOLLOW: a regular file owned by root and not writable by group or others,
// nor any directory above it (no sticky exception). invalid_input when not.
Status check_trusted_executable(const std::string& path);

} // namespace fleet
