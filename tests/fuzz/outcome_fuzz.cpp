// libFuzzer target for one agent CLI's outcome parser (make fuzz builds one per CLI, the name in
// FLEET_FUZZ_AGENT). The first byte picks the exit status (255: killed by a signal), the rest
// is the log's tail, which the agent wrote: anything at all. Beyond "no crash, no sanitizer
// report": the parser never throws, and a reason stays one short line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "dispatch/agents/agent_cli.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::optional<int> exit_code =
        data[0] == 255 ? std::nullopt : std::optional<int>(data[0]);
    const std::string log(reinterpret_cast<const char*>(data + 1), size - 1);
    try {
        const fleet::AgentOutcome outcome =
            fleet::find_agent_cli(FLEET_FUZZ_AGENT)->read_outcome(log, exit_code);
        if (outcome.reason.size() > 200 || outcome.reason.find('\n') != std::string::npos) {
            std::abort();
        }
    } catch (...) {
        std::abort(); // a parser that throws would cost a run (issue 14, item 12)
    }
    return 0;
}
