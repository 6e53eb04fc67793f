// fleet-diag: a read-only diagnostic channel. sshd runs it as the ForceCommand of the `diag`
// account; the request is SSH_ORIGINAL_COMMAND (or, locally, the words after `--`). It
// tokenises the request itself (request.hpp), judges it against the policy (policy.hpp),
// answers file commands from a pinned fd (files.hpp) and runs the other tools with an argv it
// builds (commands.hpp), writes one audit line, then the output, escaped: the guard skeleton
// of guard/common/verdict.hpp. Exit: the tool's own code (0 ok), 124 timed out, 125 refused,
// 126 could not run or read.
//
// Order of work, as the diag user:
//   standard fds open; SIGPIPE ignored; umask 077; no new privileges; not dumpable; no cores
//   arguments: [--policy PATH] [-- WORD...]       anything else: refused
//   load the policy; open the audit log           either failing: refuse everything
//   a terminal (SSH_TTY) refuses; --policy refuses under sshd (SSH_CONNECTION set)
//   tokenise, parse, narrow by policy             each refusal audited and answered on stderr
//   run (an exception: failed, still audited); audit, with the key sshd authenticated
//   (auth_key.hpp); then the escaped output on stdout (an audit that fails: no output)
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

#include "base/duration.hpp"
#include "base/probe.hpp"
#include "base/untrusted_text.hpp"
#include "guard/common/audit.hpp"
#include "guard/common/json_line.hpp"
#include "guard/common/tools.hpp"
#include "guard/common/verdict.hpp"
#include "guard/diag/auth_key.hpp"
#include "guard/diag/commands.hpp"
#include "guard/diag/files.hpp"
#include "guard/diag/policy.hpp"
#include "guard/diag/request.hpp"
#include "guard/diag/tokenizer.hpp"
#include "sys/exec.hpp"
#include "sys/io.hpp"
#include "sys/version.hpp"

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

// What a request came to (verdict.hpp): the output on stdout, and what the audit line adds.
struct Outcome : Verdict {
    std::string output; // escaped
    nlohmann::json detail = nlohmann::json::object();
};

Outcome outcome_of(int exit_code, Decision decision, const std::string& reason) {
    Outcome outcome;
    static_cast<Verdict&>(outcome) = refusal_verdict(exit_code, decision, reason);
    return outcome;
}

Outcome refusal(const std::string& reason) {
    return outcome_of(k_refused, Decision::refused, reason);
}

Outcome failure(const std::string& reason) {
    return outcome_of(k_failed, Decision::failed, reason);
}

// harden_guard_process (tools.hpp), every inherited fd above 2 close-on-exec, and no way to
// gain privileges (a setuid tool can grant diag nothing).
bool harden_process() {
    return harden_guard_process() && mark_fds_cloexec(3) &&
           ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0;
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
        return answer.error().kind == ErrorKind::system ? failure(answer.error().message)
                                                        : refusal(answer.error().message);
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
        // A system error is a failure to check, but refused all the same (nothing ran).
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
    Outcome outcome = result ? Outcome{} : failure(result.error().message);
    outcome.detail = {{"argv", argv}};
    if (!result) {
        return outcome;
    }
    outcome.output =
        escape_untrusted(result->output) + capped_note(result->truncated, policy.max_output);
    if (result->timed_out) {
        outcome.exit_code = k_timed_out;
        outcome.reason = "timed out after " + format_duration(policy.timeout);
    } else if (result->exit_code() < 0) {
        static_cast<Verdict&>(outcome) = failure("no exit status from " + argv[0]);
    } else {
        outcome.exit_code = result->exit_code();
    }
    return outcome;
}

// How fleet-diag was started: [--policy PATH] [-- WORD...], and from where.
struct Invocation {
    std::optional<std::string> policy_path;
    bool local = false;             // the request is the words after --
    std::vector<std::string> words; // those words
    bool well_formed = true;        // nothing else on the command line
    bool via_sshd = false;          // SSH_CONNECTION or SSH_ORIGINAL_COMMAND set
};

Invocation read_invocation(const std::vector<std::string>& args) {
    Invocation invocation;
    size_t i = 0;
    if (i < args.size() && args[i] == "--policy" && i + 1 < args.size()) {
        invocation.policy_path = args[i + 1];
        i += 2;
    }
    invocation.local = i < args.size() && args[i] == "--";
    invocation.well_formed = invocation.local || i == args.size();
    invocation.words.assign(args.begin() + static_cast<long>(i) + (invocation.local ? 1 : 0),
                            args.end());
    invocation.via_sshd =
        std::getenv("SSH_CONNECTION") != nullptr || std::getenv("SSH_ORIGINAL_COMMAND") != nullptr;
    return invocation;
}

// Every check in order, the first that fails refusing; else the request served. `raw` gets the
// request as sent and `request` what it parsed to, for the audit line.
Outcome serve(const Invocation& invocation, const Result<DiagPolicy>& policy,
              const Result<AuditLog>& audit, std::string& raw,
              std::optional<DiagRequest>& request) {
    const Result<std::vector<std::string>> words =
        request_words(invocation.words, invocation.local, raw);
    if (!invocation.well_formed) {
        return refusal("fleet-diag takes [--policy PATH] [-- REQUEST...] (see --help)");
    }
    if (std::getenv("SSH_TTY") != nullptr) {
        return refusal("a terminal was requested; fleet-diag serves requests without one");
    }
    if (invocation.policy_path && invocation.via_sshd) {
        return refusal("--policy is refused under sshd");
    }
    if (!policy) {
        return refusal(policy.error().message);
    }
    if (!audit) {
        return refusal("audit log unavailable, so nothing is served: " + audit.error().message);
    }
    if (!words) {
        return refusal(words.error().message);
    }
    if (words->empty()) {
        Outcome outcome;
        outcome.decision = Decision::usage;
        outcome.output = diag_usage();
        return outcome;
    }
    Result<DiagRequest> parsed = parse_diag_request(*words);
    if (!parsed) {
        return refusal(parsed.error().message);
    }
    if (Status allowed = narrow(*policy, *parsed); !allowed) {
        return refusal(allowed.error().message);
    }
    request = *parsed;
    return is_file_command(request->command) ? serve_file(*policy, *request)
                                             : serve_tool(*policy, *request);
}

int diag_main(int argc, char** argv) {
    if (!harden_process()) {
        std::cerr << "fleet-diag: cannot set up the process: " << std::strerror(errno) << "\n";
        return k_refused;
    }
    const auto started = std::chrono::steady_clock::now();
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 1 && (args[0] == "--help" || args[0] == "--version")) {
        std::cout << (args[0] == "--help" ? std::string(k_help)
                                          : std::string("fleet-diag ") + fleet::version() + "\n");
        return k_ok;
    }
    const Invocation invocation = read_invocation(args);
    const Result<DiagPolicy> policy =
        load_diag_policy(invocation.policy_path.value_or(k_default_diag_policy_path),
                         invocation.policy_path.has_value());
    const AuditSinks sinks("fleet-diag",
                           AuditLog::open(policy ? policy->audit_log : DiagPolicy{}.audit_log,
                                          AuditLog::Access::group_write));
    std::string raw;
    std::optional<DiagRequest> request;
    const Outcome outcome = serve_guarded(
        [&] { return serve(invocation, policy, sinks.file(), raw, request); }, failure);

    nlohmann::json line = audit_fields(outcome, started);
    const char* connection = std::getenv("SSH_CONNECTION");
    line["ssh_connection"] = connection != nullptr ? nlohmann::json(escape_untrusted(connection))
                                                   : nlohmann::json(nullptr);
    line["key"] = session_key_fingerprint();
    line["raw"] = escape_untrusted(raw);
    line["exit_code"] = outcome.exit_code;
    line["bytes"] = outcome.output.size();
    if (request) {
        line["request"] = diag_request_json(*request);
    }
    line.update(outcome.detail);
    // The record first: no output leaves without one.
    if (Status logged = sinks.write(line, outcome.allowed()); !logged) {
        std::cerr << "fleet-diag: " << logged.error().message << "\n";
        return k_failed;
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
