// The values of dispatch's options that are more than text (cli.cpp reads each given option
// once, by its kind): counts, labels, agent lists. Each refusal is a usage error naming the
// option and what it takes.
//
// Tested end to end through parse_command_line (tests/unit/dispatch/cli_test.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "dispatch/cli.hpp"
#include "sys/result.hpp"

namespace fleet {

// --limit, --tail, --keep: a decimal number of at most 7 digits.
Result<size_t> parse_count(const char* option, const std::string& text);

// --label KEY=VALUE...: KEY [a-z0-9_.-], at most 64 bytes; VALUE at most 256 bytes.
Result<Labels> parse_labels(const std::vector<std::string>& texts);

// -a A,B,C: no empty name, no name twice.
Result<std::vector<std::string>> parse_agents(const std::string& text);

} // namespace fleet
