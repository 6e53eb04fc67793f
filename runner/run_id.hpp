// Run ids: "YYYYMMDD-HHMMSS-xxxxxx", UTC time and six random [a-z0-9], as the old scripts made
// them ("20260109-190805-dztnfw"). They sort by start time, and name a directory.
#pragma once

#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "sys/result.hpp"

namespace fleet {

// A fresh id for `time`, with six characters from getrandom(2).
Result<std::string> make_run_id(WallTime time);

// Exactly the shape above: a run id read from a user is checked with this before it is ever
// used as a path component.
bool is_valid_run_id(std::string_view text);

} // namespace fleet
