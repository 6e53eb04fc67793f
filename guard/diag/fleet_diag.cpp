// fleet-diag: a read-only diagnostic channel. sshd runs it as the ForceCommand of the `diag`
// account; the request is SSH_ORIGINAL_COMMAND (or, locally, the words after `--`). It
// tokenises the request itself (diag_request.hpp), judges it against the policy
// (diag_policy.hpp), answers file commands from a pinned fd (diag_files.hpp) and runs the other
// tools with an argv it builds (diag_commands.hpp), writes one audit line, then the output,
// escaped. Exit: the tool's own code (0 ok), 124 timed out, 125 refused, 126 could not run or
// read.
//
// Order of work, as the diag user:
//   standard fds open; SIGPIPE ignored; umask 077; no new privileges; not dumpable; no cores
//   arguments: [--policy PATH] [-- WORD...]       anything else: refused
//   a terminal (SSH_TTY) refuses; --policy refuses under sshd (SSH_CONNECTION set)
//   load the policy; open the audit log           either failing: refuse everything
//   tokenise, parse, narrow by policy             each refusal audited and answered on stderr
//   run; audit; write the escaped output to stdout
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <optional>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.hpp"
#include "base/probe.hpp"
#include "base/sha256.hpp"
#include "base/untrusted_text.hpp"
#include "guard/common/audit.hpp"
#include "guard/common/json_line.hpp"
#include "guard/common/tools.hpp"
#include "guard/diag/commands.hpp"
#include "guard/diag/files.hpp"
#include "guard/diag/policy.hpp"
#include "guard/diag/request.hpp"
#include "sys/exec.hpp"
#include "sys/io.hpp"

namespace fleet {
namespace {

enum Exit { k_ok = 0, k_timed_out = 124, k_refused = 125, k_failed = 126 };

constexpr std::chrono::seconds k_tool_grace{2};

constexpr const char* k_help = R"(usage: fleet-diag [--policy PATH] [-- REQUEST WORD...]

A read-only diagnostic channel, run by sshd as the ForceCommand of the diag account: the
request is SSH_ORIGINAL_COMMAND. Locally, the words after -- are the request.
--policy PATH (refused under sshd) replaces /etc/fleet-dispatch/diag.toml.
Exit: the tool's code (0 ok), 124 timed out, 125 refused, 126 could not run or read.
)";

struct Outcome {
    int exit_code = k_ok;
    std::string decision = "allowed"; // allowed, refused, usage
    std::string reason;
    std::string output; // escaped
    nlohmann::json detail = nlohmann::json::object();
};

Outcome refusal(const std::string& reason) {
    Outcome outcome;
    outcome.exit_code = k_refused;
    outcome.decision = "refused";
    outcome.reason = escape_untrusted(reason);
    return outcome;
}

// harden_guard_process (tools.hpp), every inherited fd above 2 close-on-exec, and no way to
// gain privileges (a setuid tool can grant diag nothing).
bool harden_process() {
    return harden_guard_process() && mark_fds_cloexec(3) &&
           ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0;
}

std::string base64(std::string_view bytes) {
    static constexpr char k_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t bits = 0;
    int count = 0;
    for (const char c : bytes) {
        bits = (bits << 8) | static_cast<unsigned char>(c);
        count += 8;
        while (count >= 6) {
            count -= 6;
            out += k_alphabet[(bits >> count) & 0x3f];
        }
    }
    if (count > 0) {
        out += k_alphabet[(bits << (6 - count)) & 0x3f];
    }
    return out; // unpadded, as ssh-keygen prints fingerprints
}

std::optional<std::string> unbase64(std::string_view text) {
    std::string out;
    uint32_t bits = 0;
    int count = 0;
    for (const char c : text) {
        int value = -1;
        if (c >= 'A' && c <= 'Z') {
            value = c - 'A';
        } else if (c >= 'a' && c <= 'z') {
            value = c - 'a' + 26;
        } else if (c >= '0' && c <= '9') {
            value = c - '0' + 52;
        } else if (c == '+' || c == '/') {
            value = c == '+' ? 62 : 63;
        } else if (c == '=') {
            break;
        } else {
            return std::nullopt;
        }
        bits = (bits << 6) | static_cast<uint32_t>(value);
        count += 6;
        if (count >= 8) {
            count -= 8;
            out += static_cast<char>((bits >> count) & 0xff);
        }
    }
    return out;
}

// "SHA256:..." of the public key sshd authenticated, from ExposeAuthInfo's SSH_USER_AUTH file
// ("publickey ssh-ed25519 AAAA..."); empty when sshd does not expose it.
std::string key_fingerprint() {
    const char* path = std::getenv("SSH_USER_AUTH");
    if (path == nullptr) {
        return "";
    }
    Result<std::string> text = read_file_at(AT_FDCWD, path, size_t{64} * 1024);
    if (!text || text->rfind("publickey ", 0) != 0) {
        return "";
    }
    const size_t type_end = text->find(' ', 10);
    const size_t key_end = text->find_first_of(" \n", type_end + 1);
    if (type_end == std::string::npos) {
        return "";
    }
    const std::optional<std::string> blob =
        unbase64(text->substr(type_end + 1, key_end - type_end - 1));
    return blob ? "SHA256:" + base64(sha256_digest(*blob)) : "";
}

// The request's words: after `--` when given, else SSH_ORIGINAL_COMMAND tokenised.
Result<std::vector<std::string>> request_words(const std::vector<std::string>& local,
                                               bool local_mode, std::string& raw) {
    if (local_mode) {
        for (const std::string& word : local) {
            raw += (raw.empty() ? "" : " ") + word;
            if (Status checked = check_word(word); !checked) {
                return checked.error();
            }
        }
        if (raw.size() > 4096) {
            return input_error("the request is longer than 4096 bytes");
        }
        return local;
    }
    const char* original = std::getenv("SSH_ORIGINAL_COMMAND");
    raw = original != nullptr ? original : "";
    return tokenize(raw);
}

Status narrow(const DiagPolicy& policy, const DiagRequest& request) {
    const std::string name = diag_command_name(request);
    if (!policy.commands.empty() && !policy.commands.contains(name)) {
        return input_error("'" + name + "' is not allowed on this host");
    }
    if (!policy.units.empty()) {
        // The whole journal would hold every unit's lines: with a list, name units from it.
        if (request.command == DiagCommand::journalctl && request.units.empty()) {
            return input_error("journalctl needs -u UNIT on this host (units are listed)");
        }
        for (const std::string& unit : request.units) {
            if (!policy.units.contains(unit)) {
                return input_error("unit '" + unit + "' is not allowed on this host");
            }
        }
    }
    if (!policy.containers.empty() && request.command == DiagCommand::container_logs &&
        !policy.containers.contains(request.container)) {
        return input_error("container '" + request.container + "' is not allowed on this host");
    }
    return Ok{};
}

std::string capped_note(bool truncated, size_t cap) {
    return truncated ? "\n[output truncated at " + std::to_string(cap) + " bytes]\n" : "";
}

Outcome serve_file(const DiagPolicy& policy, const DiagRequest& request) {
    const DenySet deny = DenySet::build(policy.deny);
    Result<FileAnswer> answer = run_file_command(request, policy.roots, deny, policy.max_output);
    if (!answer) {
        Outcome outcome = refusal(answer.error().message);
        if (answer.error().kind == ErrorKind::system) {
            outcome.exit_code = k_failed;
            outcome.decision = "failed";
        }
        return outcome;
    }
    Outcome outcome;
    outcome.output =
        escape_untrusted(answer->output) + capped_note(answer->truncated, policy.max_output);
    outcome.detail = {{"dev", answer->id.dev},
                      {"ino", answer->id.ino},
                      {"resolver", active_resolver() == Resolver::openat2 ? "openat2" : "walk"}};
    return outcome;
}

Outcome serve_tool(const DiagPolicy& policy, const DiagRequest& request) {
    const std::vector<std::string> argv = diag_tool_argv(policy, request);
    if (Status trusted = check_trusted_executable(argv[0]); !trusted) {
        Outcome outcome = refusal(trusted.error().message);
        outcome.exit_code = trusted.error().kind == ErrorKind::system ? k_failed : k_refused;
        return outcome;
    }
    ProbeLimits limits;
    limits.timeout = policy.timeout;
    limits.grace = k_tool_grace;
    limits.max_output = policy.max_output;
    limits.workdir = "/";
    Result<ProbeResult> result = run_bounded(argv, tool_environment(), limits);
    Outcome outcome;
    outcome.detail = {{"argv", argv}};
    if (!result) {
        outcome.exit_code = k_failed;
        outcome.decision = "failed";
        outcome.reason = result.error().message;
        return outcome;
    }
    outcome.output =
        escape_untrusted(result->output) + capped_note(result->truncated, policy.max_output);
    if (result->timed_out) {
        outcome.exit_code = k_timed_out;
        outcome.reason = "timed out after " + format_duration(policy.timeout);
    } else if (result->exit_code() < 0) {
        outcome.exit_code = k_failed;
        outcome.decision = "failed";
        outcome.reason = "no exit status from " + argv[0];
    } else {
        outcome.exit_code = result->exit_code();
    }
    return outcome;
}

int diag_main(int argc, char** argv) {
    if (!harden_process()) {
        std::cerr << "fleet-diag: cannot set up the process: " << std::strerror(errno) << "\n";
        return k_refused;
    }
    const auto started = std::chrono::steady_clock::now();
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 1 && (args[0] == "--help" || args[0] == "--version")) {
        std::cout << (args[0] == "--help" ? k_help : "fleet-diag " FLEET_VERSION "\n");
        return k_ok;
    }
    std::optional<std::string> policy_path;
    size_t i = 0;
    if (i < args.size() && args[i] == "--policy" && i + 1 < args.size()) {
        policy_path = args[i + 1];
        i += 2;
    }
    const bool local_mode = i < args.size() && args[i] == "--";
    const std::vector<std::string> local(args.begin() + static_cast<long>(i) + (local_mode ? 1 : 0),
                                         args.end());
    const bool via_sshd =
        std::getenv("SSH_CONNECTION") != nullptr || std::getenv("SSH_ORIGINAL_COMMAND") != nullptr;

    std::string raw;
    Outcome outcome;
    const Result<DiagPolicy> policy = load_diag_policy(
        policy_path ? *policy_path : k_default_diag_policy_path, policy_path.has_value());
    const Result<AuditLog> audit = AuditLog::open(
        policy ? policy->audit_log : DiagPolicy{}.audit_log, AuditLog::Access::group_write);
    Result<std::vector<std::string>> words = request_words(local, local_mode, raw);
    std::optional<DiagRequest> request;
    if (!local_mode && i != args.size()) {
        outcome = refusal("fleet-diag takes [--policy PATH] [-- REQUEST...] (see --help)");
    } else if (std::getenv("SSH_TTY") != nullptr) {
        outcome = refusal("a terminal was requested; fleet-diag serves requests without one");
    } else if (policy_path && via_sshd) {
        outcome = refusal("--policy is refused under sshd");
    } else if (!policy) {
        outcome = refusal(policy.error().message);
    } else if (!audit) {
        outcome = refusal("audit log unavailable, so nothing is served: " + audit.error().message);
    } else if (!words) {
        outcome = refusal(words.error().message);
    } else if (words->empty()) {
        outcome.decision = "usage";
        outcome.output = diag_usage();
    } else if (Result<DiagRequest> parsed = parse_diag_request(*words); !parsed) {
        outcome = refusal(parsed.error().message);
    } else if (Status allowed = narrow(*policy, *parsed); !allowed) {
        outcome = refusal(allowed.error().message);
    } else {
        request = *parsed;
        outcome = is_file_command(request->command) ? serve_file(*policy, *request)
                                                    : serve_tool(*policy, *request);
    }

    const auto duration = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    const char* connection = std::getenv("SSH_CONNECTION");
    nlohmann::json line = {{"time", format_timestamp(std::chrono::system_clock::now())},
                           {"pid", ::getpid()},
                           {"uid", ::getuid()},
                           {"ssh_connection", connection != nullptr
                                                  ? nlohmann::json(escape_untrusted(connection))
                                                  : nlohmann::json(nullptr)},
                           {"key", key_fingerprint()},
                           {"raw", escape_untrusted(raw)},
                           {"decision", outcome.decision},
                           {"reason", outcome.reason},
                           {"exit_code", outcome.exit_code},
                           {"bytes", outcome.output.size()},
                           {"duration_ms", duration.count()}};
    if (request) {
        line["request"] = diag_request_json(*request);
    }
    line.update(outcome.detail);
    const std::string audit_text = json_line(line);
    syslog_audit("fleet-diag", audit_text, outcome.decision == "allowed");
    if (audit) {
        if (Status logged = audit->append(audit_text); !logged) {
            std::cerr << "fleet-diag: " << logged.error().message << "\n";
            return k_failed;
        }
    }
    std::cout << outcome.output;
    std::cout.flush();
    if (!outcome.reason.empty()) {
        std::cerr << "fleet-diag: " << (outcome.exit_code == k_refused ? "refused: " : "")
                  << outcome.reason << "\n";
    }
    return outcome.exit_code;
}

} // namespace
} // namespace fleet

int main(int argc, char** argv) {
    return fleet::diag_main(argc, argv);
}
