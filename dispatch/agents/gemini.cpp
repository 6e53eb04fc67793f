#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

#include "dispatch/agents/agent_cli.hpp"
#include "dispatch/agents/outcome_text.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

using nlohmann::json;

// Gemini CLI's documented exit codes (docs/design/agent-clis.md §3).
std::string gemini_exit_reason(int code) {
    switch (code) {
    case 41:
        return "auth error";
    case 42:
        return "input error";
    case 44:
        return "sandbox error";
    case 52:
        return "config error";
    case 53:
        return "turn limit";
    case 54:
        return "tool execution error";
    case 55:
        return "untrusted workspace";
    case 130:
        return "cancelled";
    default:
        // In json modes an API error exits with the HTTP status modulo 256 (401 -> 145).
        if (code >= 400 - 256 && code <= 599 - 256) {
            return "API error " + std::to_string(code + 256);
        }
        return "";
    }
}

AgentOutcome read_gemini(const std::string& log, std::optional<int> exit_code) {
    AgentOutcome outcome;
    for_each_json_line(log, [&](const json& line) {
        if (string_at(line, "type") != "result") {
            return;
        }
        if (const auto stats = line.find("stats"); stats != line.end() && stats->is_object()) {
            outcome.usage.input_tokens = number_at(*stats, "input_tokens");
            outcome.usage.output_tokens = number_at(*stats, "output_tokens");
        }
        if (string_at(line, "status") == "error") {
            outcome.failed = true;
            if (const auto error = line.find("error"); error != line.end() && error->is_object()) {
                outcome.reason = reason_from_message(string_at(*error, "message"));
            }
        }
    });
    if (exit_code && *exit_code != 0) {
        const std::string reason = gemini_exit_reason(*exit_code);
        if (!reason.empty()) {
            outcome.reason = reason;
        }
    }
    return outcome;
}

// The gemini-api-key auth type, which keeps honouring GOOGLE_GEMINI_BASE_URL (else exit 41):
// written as the user, only when the agent's home has no settings file yet. The home is the
// agent's (it may have planted links there): each step from the home's fd, following none.
std::string prepare_gemini_home(const std::string& home, const std::string& base_url) {
    if (base_url.empty()) {
        return "";
    }
    const std::string dir = home + "/.gemini";
    const Fd home_fd(::open(home.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!home_fd.valid() || (::mkdirat(home_fd.get(), ".gemini", 0700) != 0 && errno != EEXIST)) {
        return "cannot create " + dir + ": " + std::strerror(errno);
    }
    const Fd dir_fd(
        ::openat(home_fd.get(), ".gemini", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir_fd.valid()) {
        return "cannot open " + dir + ": " + std::strerror(errno);
    }
    const Fd fd(::openat(dir_fd.get(), "settings.json",
                         O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.valid()) {
        write_all(fd.get(), "{\"security\": {\"auth\": {\"selectedType\": \"gemini-api-key\"}}}\n");
    } else if (errno != EEXIST) {
        return "cannot write " + dir + "/settings.json: " + std::strerror(errno);
    }
    return "";
}

} // namespace

// Gemini CLI (docs/design/agent-clis.md §3): --yolo with stream-json, prompt on stdin.
// GEMINI_CLI_TRUST_WORKSPACE=true (else --yolo is ignored and it exits 55),
// GEMINI_CLI_NO_RELAUNCH=true (its relaunched child survives a parent kill). Outcome: its
// exit-code table, HTTP status mod 256 in json modes, the result record; usage from its stats.
const AgentCli& gemini_cli() {
    static const AgentCli cli{
        "gemini",
        {"--yolo", "--output-format", "stream-json"},
        PromptInput::stdin_file,
        {},
        {{"GEMINI_CLI_TRUST_WORKSPACE", "true"}, {"GEMINI_CLI_NO_RELAUNCH", "true"}},
        [](const std::string& url, AgentCommand& command) {
            command.env["GOOGLE_GEMINI_BASE_URL"] = url;
        },
        read_gemini,
        {".gemini"},
        prepare_gemini_home,
        "dispatch-gemini.sh",
    };
    return cli;
}

} // namespace fleet
