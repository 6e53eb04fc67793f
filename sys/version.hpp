// The version of this build: VERSION, and in a git checkout the commit count and commit
// (cmake/version.cmake), "0.2.0+431.g1a2b3c4d5e6f". What every program's --version prints.
// Tested end to end (tests/support/versions, the version_test: every program and script).
#pragma once

namespace fleet {

const char* version();

} // namespace fleet
