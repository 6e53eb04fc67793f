#include "dispatch/commands/report.hpp"

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <filesystem>

#include "base/atomic_file.hpp"
#include "base/clock.hpp"
#include "dispatch/fleet_html.hpp"
#include "dispatch/fleet_runs.hpp"
#include "dispatch/report.hpp"
#include "sys/fd.hpp"
#include "sys/host.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

Status write_output(const std::string& path, const std::string& text) {
    if (path.empty()) {
        if (const int error = write_all(1, text); error != 0) {
            return system_error("stdout", error);
        }
        return Ok{};
    }
    const std::filesystem::path target(path);
    const std::string parent = target.has_parent_path() ? target.parent_path().string() : ".";
    const Fd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid()) {
        return system_error(path, errno);
    }
    if (Status written = write_file_atomically(dir.get(), target.filename().string(), text, 0644);
        !written) {
        return Error{ErrorKind::system, path + ": " + written.error().message};
    }
    return Ok{};
}

} // namespace

int write_report(const ReportArgs& args, const Session& session) {
    const WallTime now = std::chrono::system_clock::now();
    FleetFilter filter;
    filter.labels = args.labels;
    if (args.since) {
        filter.since = now - *args.since;
    }
    std::vector<FleetRun> runs;
    std::string title = "fleet-dispatch: runs on " + host_name();
    if (args.from.empty()) {
        Result<std::vector<FleetRun>> read = read_host_runs(session.runs_dir, host_name(), filter);
        if (!read) {
            return fail(k_exit_setup, read.error().message);
        }
        runs = std::move(*read);
    } else {
        title = "fleet-dispatch: runs of the fleet";
        for (const std::string& dir : args.from) {
            std::vector<std::string> warnings;
            Result<std::vector<FleetRun>> read = read_fetched_runs(dir, filter, warnings);
            for (const std::string& warning : warnings) {
                warn(dir + ": " + warning);
            }
            if (!read) {
                return fail(k_exit_usage, read.error().message);
            }
            runs.insert(runs.end(), std::make_move_iterator(read->begin()),
                        std::make_move_iterator(read->end()));
        }
        newest_first(runs);
    }
    std::string text;
    if (args.json) {
        for (const FleetRun& run : runs) {
            text += to_json_line(run) + "\n";
        }
    } else {
        text = fleet_html(runs, format_timestamp(now), title);
    }
    if (Status written = write_output(args.output, text); !written) {
        return fail(k_exit_setup, written.error().message);
    }
    return k_exit_ok;
}

} // namespace fleet
