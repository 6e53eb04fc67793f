// fleet-launch: drop root to a user, verify the drop, exec a command.
//
//   fleet-launch [--no-new-privs] [--drop-group NAME]... [--workdir DIR]
//                [--env NAME=VALUE]... [--pass-env NAME]... USER[:GROUP] COMMAND [ARG...]
//
// Straight-line, single-threaded, no exceptions. Each step's failure and its exit code:
//   1. refuse a setuid/setgid install ............................ 111
//   2. parse options (getopt_long, stops at USER) ................ 100
//   3. root: resolve USER[:GROUP] (identity.hpp) ................. 100 malformed/unknown, 111 NSS
//      not root: USER must be the caller; no --drop-group ........ 111
//   4. build the environment from the allowlist .................. 100
//   5. the terminal (root's, never the command's):
//      a terminal on fd 0-2: a new pty for the command, relayed by
//      the parent, which stays root and runs nothing (pty_relay.hpp),
//      and exits with the command's status ......................... 111
//      else a controlling terminal (/dev/tty opens): setsid(); a
//      group leader forks first and the parent (still root, doing
//      nothing but wait and forward INT/TERM/HUP/QUIT) exits with
//      the child's status ........................................ 111
//      else nothing: the command keeps the pid and the process
//      group, so SSM's kill of the group still reaches it
//   6. root: drop (NNP, setgroups, setresgid, setresuid) ......... 111
//      not root: NNP when asked .................................. 111
//   7. verify the credentials (credentials.hpp) .................. 111
//   8. chdir(--workdir), as the user; else HOME, else / .......... 111
//   9. reset signal mask and dispositions ........................ 111
//  10. mark every fd >= 3 close-on-exec .......................... 111
//  11. execve, PATH from the new environment ..................... 126 / 127 / 111
// Without a terminal there is no fork: the command keeps fleet-launch's pid.
// Exit codes of a forked parent: the command's, 128 + N when signal N ended it.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <getopt.h>
#include <signal.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "launch/credentials.hpp"
#include "launch/environment.hpp"
#include "launch/identity.hpp"
#include "launch/pty_relay.hpp"
#include "sys/child.hpp"
#include "sys/exec.hpp"
#include "sys/version.hpp"
#include "sys/wait_status.hpp"

extern char** environ; // NOLINT(readability-redundant-declaration)

namespace {

constexpr int k_exit_usage = 100;
constexpr int k_exit_failure = 111;

constexpr const char* k_usage =
    "usage: fleet-launch [--no-new-privs] [--drop-group NAME]... [--workdir DIR]\n"
    "                    [--env NAME=VALUE]... [--pass-env NAME]... USER[:GROUP] COMMAND "
    "[ARG...]\n";

constexpr const char* k_see_help = " (see fleet-launch --help)";

struct Options {
    fleet::NoNewPrivs no_new_privs = fleet::NoNewPrivs::no;
    std::vector<std::string> drop_groups;
    std::string workdir;
    fleet::EnvironmentRequest environment;
    std::string spec;
    std::vector<std::string> command;
};

int fail(int code, const std::string& message) {
    const std::string line = "fleet-launch: " + message + "\n";
    // A failed write to stderr leaves nothing better to do; the exit code still tells.
    [[maybe_unused]] const ssize_t written = write(2, line.data(), line.size());
    return code;
}

int exit_code_for(const fleet::Error& error) {
    return error.kind == fleet::ErrorKind::invalid_input ? k_exit_usage : k_exit_failure;
}

// Whether `given` ("--name" or "--name=value") abbreviates a long option instead of naming it.
bool is_abbreviated(const char* given, const option* long_options) {
    if (std::strncmp(given, "--", 2) != 0) {
        return false;
    }
    const std::string name = std::string(given + 2).substr(0, std::strcspn(given + 2, "="));
    for (const option* o = long_options; o->name != nullptr; ++o) {
        if (name == o->name) {
            return false;
        }
    }
    return true;
}

// Fills `options` and returns -1 to go on, or the code to exit with (usage errors, --help).
int parse_options(int argc, char** argv, Options& options) {
    enum : int {
        opt_no_new_privs = 256,
        opt_drop_group,
        opt_workdir,
        opt_env,
        opt_pass_env,
        opt_help,
        opt_version
    };
    static const option long_options[] = {
        {"no-new-privs", no_argument, nullptr, opt_no_new_privs},
        {"drop-group", required_argument, nullptr, opt_drop_group},
        {"workdir", required_argument, nullptr, opt_workdir},
        {"env", required_argument, nullptr, opt_env},
        {"pass-env", required_argument, nullptr, opt_pass_env},
        {"help", no_argument, nullptr, opt_help},
        {"version", no_argument, nullptr, opt_version},
        {nullptr, 0, nullptr, 0},
    };
    opterr = 0;
    int opt = 0;
    // "+": stop at the first operand (USER), so COMMAND's own options are left alone.
    // getopt_long accepts unambiguous abbreviations of long options; we refuse them below,
    // so that an option name means exactly one thing in scripts.
    while ((opt = getopt_long(argc, argv, "+", long_options, nullptr)) != -1) {
        const char* given = argv[optind - 1];
        if (opt != '?' && opt != ':' && is_abbreviated(given, long_options)) {
            return fail(k_exit_usage, "option '" + std::string(given) +
                                          "' is abbreviated; spell it out" + k_see_help);
        }
        switch (opt) {
        case opt_no_new_privs:
            options.no_new_privs = fleet::NoNewPrivs::yes;
            break;
        case opt_drop_group:
            options.drop_groups.emplace_back(optarg);
            break;
        case opt_workdir:
            options.workdir = optarg;
            if (options.workdir.empty()) {
                return fail(k_exit_usage, "--workdir needs a directory");
            }
            break;
        case opt_env: {
            auto assignment = fleet::parse_env_assignment(optarg);
            if (!assignment) {
                return fail(k_exit_usage, assignment.error().message);
            }
            options.environment.set.push_back(std::move(*assignment));
            break;
        }
        case opt_pass_env:
            options.environment.pass.emplace_back(optarg);
            break;
        case opt_help:
            std::fputs(k_usage, stdout);
            return 0;
        case opt_version:
            std::printf("fleet-launch %s\n", fleet::version());
            return 0;
        default:
            return fail(k_exit_usage, "unknown option or missing value: '" +
                                          std::string(argv[optind - 1]) + "'" + k_see_help);
        }
    }
    if (argc - optind < 2) {
        return fail(k_exit_usage, std::string("missing USER or COMMAND") + k_see_help);
    }
    options.spec = argv[optind];
    for (int i = optind + 1; i < argc; ++i) {
        options.command.emplace_back(argv[i]);
    }
    return -1;
}

// The not-root path: a caller may only "launch" as itself.
fleet::Result<fleet::Identity> caller_as_target(const Options& options) {
    if (!options.drop_groups.empty()) {
        return fleet::Error{fleet::ErrorKind::system, "--drop-group needs root"};
    }
    const auto spec = fleet::parse_user_spec(options.spec);
    if (!spec) {
        return spec.error();
    }
    auto self = fleet::current_identity();
    if (!self) {
        return self.error();
    }
    const bool same_user = spec->user == self->name || spec->user == std::to_string(self->uid);
    // The group part must name the caller's current group, by name or number.
    bool same_group = spec->group.empty() || spec->group == std::to_string(self->gid);
    if (!same_group && !fleet::is_all_digits(spec->group)) {
        const auto target = fleet::resolve_identity(spec->user + ":" + spec->group, {});
        same_group = target && target->gid == self->gid;
    }
    if (!same_user || !same_group) {
        return fleet::Error{fleet::ErrorKind::system,
                            "not root: can only run as the calling user '" + self->name +
                                "'; run as root to switch to '" + options.spec + "'"};
    }
    return self;
}

pid_t g_child = 0;

void forward_signal(int sig) {
    // The child leads its own session (and group) once setsid() ran; before that, the pid.
    if (kill(-g_child, sig) != 0) {
        kill(g_child, sig);
    }
}

// Step 5 when fleet-launch leads a process group (an interactive shell's job, or `script -c`):
// setsid() would fail with EPERM, so fork and let the child take the new session. The parent
// waits and returns the child's status as an exit code; it returns -1 in the child.
int fork_into_new_session() {
    const pid_t pid = fork();
    if (pid < 0) {
        return fail(k_exit_failure, std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        fleet::ChildSetup setup; // a new session, nothing else: the launch goes on from here
        setup.reset_signals = false;
        setup.cloexec_fds = false;
        if (const fleet::ChildFailure failed = fleet::apply_child_setup(setup); failed.failed()) {
            _exit(fail(k_exit_failure, std::string("setsid: ") + std::strerror(failed.error)));
        }
        return -1;
    }
    g_child = pid;
    struct sigaction forward {};
    forward.sa_handler = forward_signal;
    sigemptyset(&forward.sa_mask);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
        if (sigaction(sig, &forward, nullptr) != 0) {
            const int err = errno;
            kill(pid, SIGKILL);
            return fail(k_exit_failure, std::string("sigaction: ") + std::strerror(err));
        }
    }
    const fleet::Result<fleet::ExitStatus> status = fleet::wait_for_exit(pid);
    if (!status) {
        return fail(k_exit_failure, status.error().message);
    }
    return status->shell_code();
}

// Step 5: returns -1 to go on (in the process that becomes the command), or the code to exit
// with (the relaying or waiting parent, or a failure).
int leave_the_terminal() {
    if (fleet::stdio_is_terminal()) {
        fleet::Result<fleet::PtyRelay> relay = fleet::start_pty_relay();
        if (!relay) {
            return fail(k_exit_failure, relay.error().message);
        }
        return relay->role == fleet::PtyRelay::Role::command ? -1 : relay->exit_code;
    }
    if (!fleet::has_controlling_terminal()) {
        return -1;
    }
    if (getpgrp() == getpid()) {
        return fork_into_new_session();
    }
    if (auto status = fleet::start_new_session(); !status) {
        return fail(k_exit_failure, status.error().message);
    }
    return -1;
}

} // namespace

int main(int argc, char** argv) {
    if (auto refused = fleet::refuse_setid_install(); !refused) {
        return fail(k_exit_failure, refused.error().message);
    }
    Options options;
    if (const int code = parse_options(argc, argv, options); code >= 0) {
        return code;
    }

    const bool as_root = geteuid() == 0;
    auto identity = as_root ? fleet::resolve_identity(options.spec, options.drop_groups)
                            : caller_as_target(options);
    if (!identity) {
        return fail(exit_code_for(identity.error()), identity.error().message);
    }
    auto environment = fleet::build_environment(*identity, environ, options.environment);
    if (!environment) {
        return fail(exit_code_for(environment.error()), environment.error().message);
    }

    if (const int code = leave_the_terminal(); code >= 0) {
        return code;
    }

    if (as_root) {
        if (auto dropped = fleet::drop_privileges(*identity, options.no_new_privs); !dropped) {
            return fail(k_exit_failure, dropped.error().message);
        }
    } else if (options.no_new_privs == fleet::NoNewPrivs::yes) {
        if (auto nnp = fleet::set_no_new_privs(); !nnp) {
            return fail(k_exit_failure, nnp.error().message);
        }
    }
    if (auto verified = fleet::verify_credentials(*identity, options.no_new_privs); !verified) {
        return fail(k_exit_failure, verified.error().message);
    }

    if (!options.workdir.empty()) {
        if (chdir(options.workdir.c_str()) != 0) {
            return fail(k_exit_failure,
                        "cannot enter --workdir " + options.workdir + ": " + std::strerror(errno));
        }
    } else if (chdir(identity->home.c_str()) != 0 && chdir("/") != 0) {
        return fail(k_exit_failure, std::string("chdir /: ") + std::strerror(errno));
    }

    if (auto reset = fleet::reset_signals(); !reset) {
        return fail(k_exit_failure, reset.error().message);
    }
    if (auto marked = fleet::mark_fds_cloexec(3); !marked) {
        return fail(k_exit_failure, marked.error().message);
    }
    const fleet::ExecFailure failure = fleet::exec_command(options.command, *environment);
    return fail(failure.exit_code, failure.message);
}
