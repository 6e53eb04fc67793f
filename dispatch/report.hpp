// How dispatch reports a failure: one line on stderr, "dispatch: <message>", and an exit code
// from the documented set (status.hpp). The message is escaped (untrusted_text.hpp): it may
// quote what an agent wrote, and it stays one line.
#pragma once

#include <string>

#include "sys/result.hpp"

namespace fleet {

// Prints the line (a problem the command goes on after: one run of many it could not read).
void warn(const std::string& message);

// Prints the line and returns `code`, so callers can `return fail(…)`.
int fail(int code, const std::string& message);

// invalid_input (the request was wrong) is a usage error, 2; anything else a setup error, 3.
int exit_code_for(const Error& error);

// fail(exit_code_for(error), error.message).
int fail(const Error& error);

} // namespace fleet
