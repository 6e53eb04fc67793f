// dispatch: the runner. See docs/dispatch.md.
#include <cstdio>
#include <exception>
#include <signal.h>

#include "cli.hpp"
#include "read_commands.hpp"
#include "run_command.hpp"
#include "session.hpp"
#include "status.hpp"

int main(int argc, char** argv) {
    // A closed stdout must show up as EPIPE (console output stops, logging goes on), not kill
    // the runner. Agents get every disposition reset (spawner.hpp).
    ::signal(SIGPIPE, SIG_IGN);
    try {
        fleet::Result<fleet::CommandLine> line = fleet::parse_command_line(argc, argv);
        if (!line) {
            std::fprintf(stderr, "dispatch: %s\n", line.error().message.c_str());
            return fleet::k_exit_usage;
        }
        if (line->subcommand == fleet::Subcommand::help) {
            std::fputs(fleet::usage_text().c_str(), stdout);
            return fleet::k_exit_ok;
        }
        if (line->subcommand == fleet::Subcommand::version) {
            std::puts("dispatch " FLEET_VERSION);
            return fleet::k_exit_ok;
        }
        int exit_code = 0;
        fleet::Result<fleet::Session> session =
            fleet::become_target(line->config_path, line->user, exit_code);
        if (!session) {
            std::fprintf(stderr, "dispatch: %s\n", session.error().message.c_str());
            return exit_code;
        }
        switch (line->subcommand) {
        case fleet::Subcommand::list:
            return fleet::list_runs(*line, *session);
        case fleet::Subcommand::status:
            return fleet::show_status(*line, *session);
        case fleet::Subcommand::logs:
            return fleet::print_logs(*line, *session);
        default:
            return fleet::run_dispatch(*line, *session);
        }
    } catch (const std::exception& e) {
        // Cannot continue (out of memory, a library bug): say so in one line, exit as setup error.
        std::fprintf(stderr, "dispatch: internal error: %s\n", e.what());
        return fleet::k_exit_setup;
    }
}
