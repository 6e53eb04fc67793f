// Text from agents, commands and callers is data, never terminal input: before it reaches an
// answer, an audit log or an operator's terminal, every byte that is not printable UTF-8 (or a
// kept line break) becomes the visible text \xNN: control characters and ESC, DEL, the C1
// controls U+0080..U+009F (CSI among them), invalid UTF-8. A consumer that prints the result
// cannot be driven by escape sequences (docs/design/restricted-channels.md §7; sudo
// CVE-2023-28486/28487; terminal escape injection, CVE-2003-0063's class).
#pragma once

#include <string>
#include <string_view>

namespace fleet {

// Whether newline and tab stay as they are (multi-line output) or are escaped too (one field
// of a one-line record: a reason, a label, a table cell).
enum class LineBreaks { kept, escaped };

std::string escape_untrusted(std::string_view bytes, LineBreaks breaks = LineBreaks::kept);

// Whether a stream's carriage returns stay (one stream alone: progress lines) or are escaped
// (streams sharing a console, each line prefixed: a CR would let one overwrite the prefix).
enum class CarriageReturn { kept, escaped };

// escape_untrusted for a stream that arrives in chunks (agent output on its way to a terminal):
// a UTF-8 sequence split between two chunks is held back until it is whole, so a chunk
// boundary never turns good text into escapes. Newline and tab are kept, carriage return as
// asked.
class TerminalEscaper {
public:
    explicit TerminalEscaper(CarriageReturn cr = CarriageReturn::kept) : m_cr(cr) {}

    // The escaped text of `chunk`, less an unfinished trailing sequence (at most 3 bytes).
    std::string feed(std::string_view chunk);
    // What is held back, escaped: the stream ended inside a sequence.
    std::string finish();

private:
    CarriageReturn m_cr;
    std::string m_held;
};

} // namespace fleet
