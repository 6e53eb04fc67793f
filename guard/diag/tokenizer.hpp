// fleet-diag's tokeniser: sshd's SSH_ORIGINAL_COMMAND into words, by our own rules, never a
// shell's. Words split on spaces; '...' and "..." group (the other quote is literal inside);
// nothing else has meaning. Refused, never escaped: a control character (newline, tab, ESC...),
// DEL, a C1 control, invalid UTF-8, any of ; & | < > ( ) $ ` \ * ? [ ] { } ! # ~ ^ (quoted
// or not), an unterminated quote, an empty word, more than 64 words or 4096 bytes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sys/result.hpp"

namespace fleet {

Result<std::vector<std::string>> tokenize(std::string_view request);

// The tokeniser's rules for one word given on its own (fleet-diag -- WORD...): no control
// character, invalid UTF-8 or shell metacharacter, not empty. Quotes are plain characters here.
Status check_word(std::string_view word);

} // namespace fleet
