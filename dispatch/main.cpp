// dispatch: the runner. See docs/dispatch.md. The same binary answers to the old scripts' names
// (dispatch.sh, dispatch-unified.sh, dispatch-aider.sh, …): cli.hpp.
#include <cerrno>
#include <cstdio>
#include <exception>
#include <fcntl.h>
#include <optional>
#include <signal.h>
#include <variant>

#include "dispatch/cli.hpp"
#include "dispatch/commands/doctor.hpp"
#include "dispatch/commands/info.hpp"
#include "dispatch/commands/operate.hpp"
#include "dispatch/commands/read.hpp"
#include "dispatch/commands/report.hpp"
#include "dispatch/commands/run.hpp"
#include "dispatch/report.hpp"
#include "dispatch/session.hpp"
#include "runner/status.hpp"
#include "sys/version.hpp"

namespace {

// A run splits here, still as root: the outer process stays the caller's and relays, the inner
// is the runner, init of the run's PID namespace (runner_process.hpp). Then every process drops
// to the target. Returns 0, or the exit code of a failure it reported.
int become_target(const fleet::CommandLine& line, fleet::Session& session,
                  const std::vector<std::string>& agents,
                  std::optional<fleet::RunnerProcess>& runner) {
    if (line.subcommand == fleet::Subcommand::run) {
        const auto& run = std::get<fleet::RunArgs>(line.args);
        fleet::Result<fleet::RunLimitsSetup> limits =
            fleet::setup_run_limits(session.config, agents, session.as_root);
        if (!limits) {
            return fleet::fail(fleet::k_exit_setup, limits.error().message);
        }
        fleet::Result<fleet::RunnerProcess> started = fleet::start_runner(
            session, run.detach ? fleet::Detach::yes : fleet::Detach::no,
            fleet::confinement_required(session.config, agents), std::move(*limits));
        if (!started) {
            return fleet::fail(fleet::k_exit_setup, started.error().message);
        }
        runner = std::move(*started);
    }
    int exit_code = 0;
    if (fleet::Status dropped = fleet::drop_to_target(session, exit_code); !dropped) {
        return fleet::fail(exit_code, dropped.error().message);
    }
    if (runner) {
        if (fleet::Status attached = fleet::runner_attached(*runner); !attached) {
            return fleet::fail(fleet::k_exit_setup, attached.error().message);
        }
    }
    return 0;
}

// The subcommand, run as the target; each one's arguments are its own (cli.hpp).
int run_subcommand(const fleet::CommandLine& line, fleet::Session& session,
                   const std::vector<std::string>& agents,
                   std::optional<fleet::RunnerProcess>& runner) {
    const fleet::SubcommandArgs& args = line.args; // agents and config take none

    switch (line.subcommand) {
    case fleet::Subcommand::list:
        return fleet::list_runs(std::get<fleet::ListArgs>(args), session);
    case fleet::Subcommand::status:
        return fleet::show_status(std::get<fleet::StatusArgs>(args), session);
    case fleet::Subcommand::logs:
        return fleet::print_logs(std::get<fleet::LogsArgs>(args), session);
    case fleet::Subcommand::diff:
        return fleet::print_diff(std::get<fleet::DiffArgs>(args), session);
    case fleet::Subcommand::wait:
        return fleet::wait_run(std::get<fleet::WaitArgs>(args), session);
    case fleet::Subcommand::cancel:
        return fleet::cancel_run(std::get<fleet::CancelArgs>(args), session);
    case fleet::Subcommand::prune:
        return fleet::prune_runs(std::get<fleet::PruneArgs>(args), session);
    case fleet::Subcommand::report:
        return fleet::write_report(std::get<fleet::ReportArgs>(args), session);
    case fleet::Subcommand::agents:
        return fleet::list_agents(session);
    case fleet::Subcommand::config:
        return fleet::show_config(session);
    default:
        return fleet::run_dispatch(std::get<fleet::RunArgs>(args), session, agents, *runner);
    }
}

// A caller that closed fd 0, 1 or 2: /dev/null there, so that no descriptor dispatch opens (a
// root-opened cgroup file, a pipe) lands on one and is later replaced by a dup2.
bool fill_closed_stdio() {
    for (int fd = 0; fd < 3; ++fd) {
        if (::fcntl(fd, F_GETFD) < 0 && errno == EBADF && ::open("/dev/null", O_RDWR) != fd) {
            return false;
        }
    }
    return true;
}

} // namespace

int main(int argc, char** argv) {
    // A closed stdout must show up as EPIPE (console output stops, logging goes on), not kill
    // the runner. Agents get every disposition reset (spawner.hpp).
    ::signal(SIGPIPE, SIG_IGN);
    if (!fill_closed_stdio()) {
        return fleet::k_exit_setup;
    }
    try {
        fleet::Result<fleet::CommandLine> line = fleet::parse_command_line(argc, argv);
        if (!line) {
            return fleet::fail(fleet::k_exit_usage, line.error().message);
        }
        if (line->subcommand == fleet::Subcommand::help) {
            std::fputs(fleet::usage_text().c_str(), stdout);
            return fleet::k_exit_ok;
        }
        if (line->subcommand == fleet::Subcommand::version) {
            std::printf("dispatch %s\n", fleet::version());
            return fleet::k_exit_ok;
        }
        if (line->subcommand == fleet::Subcommand::doctor) {
            return fleet::run_doctor(*line); // checks as root: it does not drop (doctor.hpp)
        }
        int exit_code = 0;
        fleet::Result<fleet::Session> session =
            fleet::load_session(line->config_path, line->user, exit_code);
        if (!session) {
            return fleet::fail(exit_code, session.error().message);
        }
        // Secrets are read while still root: for the agents about to run, or for `config`,
        // which shows their names (redacted) and so checks every env_file.
        std::vector<std::string> agents;
        if (line->subcommand == fleet::Subcommand::run) {
            fleet::Result<std::vector<std::string>> chosen =
                fleet::choose_agents(std::get<fleet::RunArgs>(line->args), session->config);
            if (!chosen) {
                return fleet::fail(fleet::k_exit_usage, chosen.error().message);
            }
            agents = *chosen;
        } else if (line->subcommand == fleet::Subcommand::config) {
            for (const auto& [name, agent] : session->config.agents) {
                agents.push_back(name);
            }
        }
        if (fleet::Status loaded = fleet::load_secrets(*session, agents, exit_code); !loaded) {
            return fleet::fail(exit_code, loaded.error().message);
        }
        std::optional<fleet::RunnerProcess> runner;
        if (const int failed = become_target(*line, *session, agents, runner); failed != 0) {
            return failed;
        }
        return run_subcommand(*line, *session, agents, runner);
    } catch (const std::exception& e) {
        // Cannot continue (out of memory, a library bug): say so in one line, exit as setup error.
        return fleet::fail(fleet::k_exit_setup, std::string("internal error: ") + e.what());
    }
}
