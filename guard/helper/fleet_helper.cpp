// fleet-helper: the only road from an agent to root. Started through one exact sudoers rule
// (admin/sudoers.hpp) or, for callers that cannot use sudo, once per connection on its socket
// (socket.hpp: the caller from SO_PEERCRED, the request over the connection), it parses a typed
// request (request.hpp), judges it against the root-owned policy (policy.hpp), asks for a TOTP code
// where the policy says so (totp.hpp), runs a fixed argv without a shell (actions.hpp), writes its
// audit records (guard/common: the skeleton of verdict.hpp) and answers with one JSON object on
// stdout. Exit codes: 0 ok, 1 the action ran and failed, 2 refused, 3 TOTP required or refused, 4
// usage.
//
// Order of work, as root:
//   block every signal but the fault ones      sudo relays the caller's signals: none may end
//                                              the helper between an action and its record
//   root's resource limits                     not the caller's, which sudo hands down
//   umask 077; not dumpable; no core files     the TOTP secret passes through this process
//   parse argv                                 a usage error is still answered and audited
//   started through sudo?                      SUDO_* set by sudo, or sudo as the parent
//   load the policy                            default path; --policy only without sudo
//   open the audit log                         cannot open: refuse (fail closed)
//   decide, TOTP, check the executable         each refusal answered and audited
//   vet: a unit's aliases (systemctl show),    a protected unit under another name, a
//   a package transaction (apt-get -s)         transaction that removes more than asked:
//                                              refused (transaction.hpp)
//   audit "start" to both sinks, then run      the file sink failing refuses the action: an
//                                              action never runs without a record
//   audit "end" (also after an exception, with the signals that arrived meanwhile); answer
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <optional>
#include <sstream>
#include <sys/mman.h>
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
#include "guard/helper/actions.hpp"
#include "guard/helper/caller.hpp"
#include "guard/helper/hardening.hpp"
#include "guard/helper/policy.hpp"
#include "guard/helper/request.hpp"
#include "guard/helper/socket.hpp"
#include "guard/helper/totp.hpp"
#include "guard/helper/transaction.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"
#include "sys/version.hpp"

namespace fleet {
namespace {

enum Exit { k_ok = 0, k_failed = 1, k_refused = 2, k_totp = 3, k_usage = 4 };

constexpr size_t k_max_output = size_t{64} * 1024;
constexpr const char* k_default_audit_log = "/var/log/fleet-dispatch/helper.log";
constexpr const char* k_help = R"(usage: fleet-helper [--policy PATH] COMMAND ...

Through sudo, or over its socket when it is there (confined agents cannot use sudo), the
one way an agent acts as root. Answers with one JSON object.

  service ACTION NAME [--totp CODE]     ACTION: status start stop restart reload enable disable
  package ACTION [NAME] [--totp CODE]   ACTION: install remove (NAME), update upgrade
  ping                                  proves the sudo rule works
  policy                                the effective allowlist

Root's set-up (the sudoers rule, TOTP enrolment) is fleet-admin's, out of the agents' reach.

  --policy PATH   another policy file (refused through sudo or the socket); default
                  /etc/fleet-dispatch/helper.toml
  --serve-socket  root's socket unit only: serve the one request on fd 3
Exit: 0 ok, 1 the action failed, 2 refused, 3 TOTP required or wrong, 4 usage.
)";

// What a request came to (verdict.hpp): the answer on stdout, and what the audit line adds.
struct Outcome : Verdict {
    nlohmann::json answer = nlohmann::json::object();
    nlohmann::json argv; // what ran, when something ran
    std::optional<uint64_t> totp_counter;
    std::vector<std::string> signals; // blocked signals that arrived while it was served
};

// The audit trail of one request: one line to both sinks before an action runs ("start") and
// one when the request is over ("end"), each with what is known by then.
class AuditTrail {
public:
    AuditTrail(const AuditSinks& sinks, const Result<Request>& request,
               const std::vector<std::string>& args, const Caller& caller)
        : m_sinks(sinks), m_request(request), m_args(args), m_caller(caller),
          m_started(std::chrono::steady_clock::now()) {}

    enum class Phase { start, end };

    // Writes the line; the file sink's result (syslog is best effort).
    Status record(const Outcome& outcome, Phase phase) const;

    // AuditLog::lock_exclusive on the file sink.
    Status lock(std::chrono::milliseconds timeout) const {
        return m_sinks.file() ? m_sinks.file()->lock_exclusive(timeout) : m_sinks.file().error();
    }

    std::chrono::milliseconds elapsed() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - m_started);
    }

private:
    const AuditSinks& m_sinks;
    const Result<Request>& m_request;
    const std::vector<std::string>& m_args;
    const Caller& m_caller;
    std::chrono::steady_clock::time_point m_started;
};

Outcome refusal(int exit_code, Decision decision, const std::string& reason) {
    Outcome outcome;
    static_cast<Verdict&>(outcome) = refusal_verdict(exit_code, decision, reason);
    outcome.answer = {{"ok", false}, {"error", outcome.reason}};
    return outcome;
}

Outcome refused(const std::string& reason) {
    return refusal(k_refused, Decision::refused, reason);
}

// What every command the helper runs gets: the policy's timeout and grace, 64 KiB of output,
// `/` as its working directory.
ProbeLimits action_limits(const HelperPolicy& policy) {
    ProbeLimits limits;
    limits.timeout = policy.timeout;
    limits.grace = policy.grace;
    limits.max_output = k_max_output;
    limits.workdir = "/";
    return limits;
}

// Runs a read-only question the helper asks before an action (a simulation, a unit's names):
// the same executable check, environment and limits as the action, output kept for parsing.
Result<ProbeResult> ask(const HelperPolicy& policy, const std::vector<std::string>& argv) {
    if (Status trusted = check_trusted_executable(argv[0]); !trusted) {
        return trusted.error();
    }
    Result<ProbeResult> result = run_bounded(argv, action_environment(), action_limits(policy));
    if (result && result->truncated) {
        return input_error(argv[0].substr(argv[0].rfind('/') + 1) + " " + argv[1] + ": more than " +
                           std::to_string(k_max_output) + " bytes of answer, not judged");
    }
    if (result && !result->succeeded()) {
        // apt's own reason is its last "E: " line; otherwise how it ended.
        const size_t at = result->output.rfind("E: ");
        const std::string why =
            at != std::string::npos
                ? result->output.substr(at + 3, result->output.find('\n', at) - at - 3)
                : describe(result->status);
        return input_error(argv[0].substr(argv[0].rfind('/') + 1) + " " + argv[1] + ": " + why);
    }
    return result;
}

// What the helper checks beyond the policy before it acts (transaction.hpp, policy.hpp
// is_protected_unit): nullopt to go on, else the refusal.
std::optional<Outcome> vet_action(const HelperPolicy& policy, const Request& request) {
    if (request.command == Command::service &&
        (request.action == "stop" || request.action == "disable")) {
        Result<ProbeResult> names = ask(policy, unit_names_argv(policy, request.name));
        if (!names) {
            return refused("cannot tell which unit '" + request.name +
                           "' is, so it is not stopped: " + names.error().message);
        }
        std::vector<std::string> all;
        std::istringstream words(names->output);
        for (std::string name; words >> name;) {
            all.push_back(name);
        }
        if (is_protected_unit(policy, all)) {
            return refused("service '" + request.name + "' is protected (it is " +
                           (all.empty() ? request.name : all.front()) +
                           "): the helper never stops or disables it");
        }
    }
    if (request.command == Command::package) {
        const std::vector<std::string> simulation = simulation_argv(policy, request);
        if (simulation.empty()) {
            return std::nullopt;
        }
        Result<ProbeResult> simulated = ask(policy, simulation);
        if (!simulated) {
            return refused("the simulated transaction failed, so nothing ran: " +
                           simulated.error().message);
        }
        if (Status judged = judge_removals(policy, request, simulated_removals(simulated->output));
            !judged) {
            return refused(judged.error().message);
        }
    }
    return std::nullopt;
}

Outcome run_action(const HelperPolicy& policy, const Request& request, const AuditTrail& trail,
                   std::optional<uint64_t> totp_counter) {
    const std::vector<std::string> argv = action_argv(policy, request);
    if (Status trusted = check_trusted_executable(argv[0]); !trusted) {
        return refused(trusted.error().message);
    }
    // Package actions one at a time, from simulation to end: what apt would remove must not
    // change in between.
    if (request.command == Command::package) {
        if (Status locked = trail.lock(policy.timeout); !locked) {
            return refused(locked.error().message);
        }
    }
    if (std::optional<Outcome> refusal = vet_action(policy, request)) {
        return *refusal;
    }
    Outcome starting;
    starting.argv = argv;
    starting.totp_counter = totp_counter;
    if (Status logged = trail.record(starting, AuditTrail::Phase::start); !logged) {
        return refused("cannot write the audit log, so nothing runs: " + logged.error().message);
    }
    Result<ProbeResult> result = run_bounded(argv, action_environment(), action_limits(policy));
    if (!result) {
        Outcome outcome = refusal(k_failed, Decision::allowed, result.error().message);
        outcome.argv = argv;
        return outcome;
    }
    Outcome outcome;
    outcome.argv = argv;
    const bool ok = result->succeeded();
    outcome.exit_code = ok ? k_ok : k_failed;
    outcome.answer = {{"ok", ok},
                      {"exit_code", result->exit_code()},
                      {"output", escape_untrusted(result->output)},
                      {"truncated", result->truncated},
                      {"timed_out", result->timed_out}};
    if (!ok) {
        const std::string program = argv[0].substr(argv[0].rfind('/') + 1);
        outcome.reason =
            result->timed_out
                ? program + " did not finish within " + format_duration(policy.timeout)
            : result->status.exited
                ? program + " exited with status " + std::to_string(result->status.code)
                : program + " ended with " + describe(result->status);
        outcome.answer["error"] = outcome.reason;
    }
    return outcome;
}

Outcome serve_action(const HelperPolicy& policy, const Request& request, const AuditTrail& trail) {
    const Ruling ruling = decide(policy, request);
    if (!ruling.allowed) {
        return refused(ruling.reason);
    }
    std::optional<uint64_t> counter;
    if (ruling.needs_totp) {
        const std::string what = std::string(command_name(request.command)) + " " + request.action;
        if (!request.totp) {
            return refusal(k_totp, Decision::totp_refused,
                           what + " needs a TOTP code (--totp CODE)");
        }
        Result<TotpCheck> check =
            verify_totp(policy.totp_secret, policy.totp_state, *request.totp, ::time(nullptr));
        if (!check) {
            return refusal(k_totp, Decision::totp_refused, check.error().message);
        }
        if (check->verdict != TotpVerdict::accepted) {
            return refusal(k_totp, Decision::totp_refused, check->reason);
        }
        counter = check->counter;
    }
    Outcome outcome = run_action(policy, request, trail, counter);
    outcome.totp_counter = counter;
    return outcome;
}

Outcome serve(const Result<Request>& request, const Caller& caller,
              const Result<HelperPolicy>& policy, const Result<AuditLog>& audit,
              const AuditTrail& trail) {
    if (caller.peer && (!policy || policy->socket_users.count(caller.peer->user) == 0)) {
        return refused("uid " + std::to_string(caller.peer->uid) +
                       (caller.peer->user.empty() ? "" : " (" + caller.peer->user + ")") +
                       " may not use the socket: not in the policy's socket_users");
    }
    if (!request) {
        return refusal(k_usage, Decision::usage_error, request.error().message);
    }
    if (request->policy && caller.remote()) {
        return refused("--policy is refused through sudo or the socket: the policy is " +
                       std::string(k_default_policy_path));
    }
    if (!audit) {
        return refused("audit log unavailable, so nothing is allowed: " + audit.error().message);
    }
    const Command command = request->command;
    if (!policy) {
        return refused(policy.error().message);
    }
    switch (command) {
    case Command::ping: {
        Outcome outcome;
        outcome.answer = {{"ok", true},
                          {"pong", true},
                          {"version", fleet::version()},
                          {"policy", policy->source}};
        return outcome;
    }
    case Command::policy: {
        Outcome outcome;
        outcome.answer = {{"ok", true}, {"policy", policy_json(*policy)}};
        return outcome;
    }
    default:
        return serve_action(*policy, *request, trail);
    }
}

Status AuditTrail::record(const Outcome& outcome, Phase phase) const {
    nlohmann::json line = audit_fields(outcome, m_started);
    line["phase"] = phase == Phase::start ? "start" : "end";
    add_caller_fields(m_caller, line);
    if (phase == Phase::end) {
        line["exit_code"] = outcome.exit_code;
    }
    if (m_request) {
        line["request"] = request_json(*m_request);
    } else {
        // A request that did not parse is recorded, but bounded: the first 32 words, 256
        // bytes each (a socket caller may send 64 KiB, and the log is everyone's).
        nlohmann::json words = nlohmann::json::array();
        for (size_t i = 0; i < m_args.size() && i < 32; ++i) {
            words.push_back(escape_untrusted(m_args[i].substr(0, 256)));
        }
        line["request"] = {{"argv", words}};
    }
    if (!outcome.argv.is_null()) {
        line["argv"] = outcome.argv;
    }
    if (outcome.answer.is_object() && outcome.answer.contains("exit_code")) {
        line["command_exit_code"] = outcome.answer["exit_code"];
    }
    if (outcome.totp_counter) {
        line["totp_counter"] = *outcome.totp_counter;
    }
    if (!outcome.signals.empty()) {
        line["signals"] = outcome.signals;
    }
    return m_sinks.write(line, outcome.allowed());
}

// `--serve-socket [--policy PATH]` (root's own unit, socket.hpp): the caller is the
// connection's peer, as the kernel has it.
Result<SocketPeer> accept_socket_caller(const std::vector<std::string>& args,
                                        std::string& policy_path) {
    const bool with_policy =
        args.size() == 3 && args[1] == "--policy" && !args[2].empty() && args[2][0] == '/';
    if (args.size() != 1 && !with_policy) {
        return input_error("usage: fleet-helper --serve-socket [--policy PATH]");
    }
    if (::getuid() != 0 || identify_caller().via_sudo || !socket_activated()) {
        return input_error("--serve-socket: only root's socket unit starts this (LISTEN_FDS=1)");
    }
    if (with_policy) {
        policy_path = args[2];
    }
    return socket_peer(3);
}

// The socket's request, read only for a caller the policy lists: a stranger's bytes are never
// parsed, only refused (serve). Empty for a stranger; an Error for a line that cannot be read.
Result<std::vector<std::string>> socket_request(const Caller& caller,
                                                const Result<HelperPolicy>& policy) {
    if (!policy || policy->socket_users.count(caller.peer->user) == 0) {
        return std::vector<std::string>{};
    }
    return read_socket_request(3);
}

// The end of every served request: the audit line first (whatever happens to the answer, the
// request is on record), then the answer, on stdout or the socket; the exit code.
int record_and_answer(Outcome& outcome, const Result<Request>& request, const AuditTrail& trail,
                      bool on_socket) {
    const Status logged = trail.record(outcome, AuditTrail::Phase::end);
    const int exit_code =
        logged ? outcome.exit_code : (outcome.exit_code == k_ok ? k_failed : outcome.exit_code);
    if (outcome.answer.is_object()) {
        if (request) {
            outcome.answer["request"] = request_json(*request);
        }
        outcome.answer["duration_ms"] = trail.elapsed().count();
        if (!logged) {
            outcome.answer["audit_error"] = logged.error().message;
        }
        if (on_socket) {
            (void)write_socket_answer(3, outcome.answer, exit_code);
        } else {
            std::cout << json_line(outcome.answer) << "\n";
        }
    }
    std::cout.flush();
    if (!logged) {
        std::cerr << "fleet-helper: " << logged.error().message << "\n";
    }
    return exit_code;
}

bool is_local_command(const std::vector<std::string>& args) {
    const Result<Request> request = parse_request(args);
    return request && (request->command == Command::help || request->command == Command::version);
}

int helper_main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    // Unprivileged and not through sudo: the socket road, when it is there.
    if (::getuid() != 0 && !identify_caller().via_sudo && !is_local_command(args)) {
        if (const std::optional<std::string> path = helper_socket_path()) {
            return call_helper_socket(*path, args);
        }
    }
    if (!hold_signals()) {
        std::cerr << "fleet-helper: cannot set up the process: " << std::strerror(errno) << "\n";
        return k_refused;
    }
    if (const std::string problem = harden_helper_process(); !problem.empty()) {
        std::cout << json_line({{"ok", false}, {"error", problem}}) << "\n";
        std::cerr << "fleet-helper: " << problem << "\n";
        return k_refused;
    }
    std::string policy_path = k_default_policy_path;
    Caller caller = identify_caller();
    const bool on_socket = !args.empty() && args[0] == "--serve-socket";
    if (on_socket) {
        Result<SocketPeer> peer = accept_socket_caller(args, policy_path);
        if (!peer) {
            std::cerr << "fleet-helper: " << peer.error().message << "\n";
            return k_usage;
        }
        caller = Caller{};
        caller.uid = peer->uid;
        caller.peer = *peer;
        args.clear();
    } else if (const std::optional<std::string> named = leading_policy(args);
               named && !named->empty() && (*named)[0] == '/' && !caller.remote()) {
        policy_path = *named;
    }
    const Result<HelperPolicy> policy = load_policy(policy_path);
    std::optional<Error> unreadable;
    if (on_socket) {
        Result<std::vector<std::string>> sent = socket_request(caller, policy);
        if (sent) {
            args = *sent;
        } else {
            unreadable = sent.error();
        }
    }
    const Result<Request> request = unreadable ? Result<Request>(*unreadable) : parse_request(args);
    if (!on_socket && request &&
        (request->command == Command::help || request->command == Command::version)) {
        std::cout << (request->command == Command::help
                          ? std::string(k_help)
                          : std::string("fleet-helper ") + fleet::version() + "\n");
        return k_ok;
    }
    const AuditSinks sinks(
        "fleet-helper",
        AuditLog::open(policy ? policy->audit_log : std::string(k_default_audit_log)));
    const AuditTrail trail(sinks, request, args, caller);
    if (Status oath = init_oath(); !oath) {
        std::cout << json_line({{"ok", false}, {"error", oath.error().message}}) << "\n";
        return k_refused;
    }
    Outcome outcome = serve_guarded(
        [&] { return serve(request, caller, policy, sinks.file(), trail); },
        [](const std::string& reason) { return refusal(k_failed, Decision::failed, reason); });
    outcome.signals = held_signals_pending();
    return record_and_answer(outcome, request, trail, on_socket);
}

} // namespace
} // namespace fleet

int main(int argc, char** argv) {
    try {
        return fleet::helper_main(argc, argv);
    } catch (const std::exception& e) {
        // Only before a request is served (serve() has its own catch, audited): one answer.
        std::cout << fleet::json_line(
                         {{"ok", false}, {"error", std::string("internal error: ") + e.what()}})
                  << "\n";
        return 2;
    }
}
