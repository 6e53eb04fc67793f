// {name} placeholders in agent commands and task templates. "{{" and "}}" stand for literal
// braces. Expansion is plain string substitution into one argv element: no shell, no word
// splitting, so a prompt is always exactly one argument, whatever it contains.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sys/result.hpp"

namespace fleet {

// Replaces each {name} with values.at(name). invalid_input for an unknown name, a '{' without
// '}' or a lone '}'.
Result<std::string> expand_placeholders(std::string_view text,
                                        const std::map<std::string, std::string>& values);

// The names used in `text` (after the same syntax checks).
Result<std::vector<std::string>> placeholder_names(std::string_view text);

} // namespace fleet
