// fleet-admin: what root does to set a host up, never reached by an agent (it is not in any
// sudoers rule; fleet-helper is the agents' one road to root). fleet-dispatch-setup calls it.
//
//   fleet-admin legacy-dir --dir DIR --target PATH [--uninstall] [--dry-run]
//       the old scripts' directory: six links to PATH, immutable (legacy_dir.hpp)
//   fleet-admin --help | --version
//
// Each change is printed as one line ("would ..." with --dry-run). Exit: 0 done (or nothing to
// do), 1 refused or failed (the line says why; what was done before it is listed), 2 usage.
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "legacy_dir.hpp"
#include "untrusted_text.hpp"

namespace {

constexpr int k_exit_ok = 0;
constexpr int k_exit_failed = 1;
constexpr int k_exit_usage = 2;

constexpr const char* k_usage =
    "usage: fleet-admin legacy-dir --dir DIR --target PATH [--uninstall] [--dry-run]\n"
    "       fleet-admin --help | --version\n";

int usage(const std::string& why) {
    std::fprintf(stderr, "fleet-admin: %s\n%s",
                 fleet::escape_untrusted(why, fleet::LineBreaks::escaped).c_str(), k_usage);
    return k_exit_usage;
}

int legacy_dir(const std::vector<std::string>& args) {
    fleet::LegacyDirRequest request;
    bool uninstall = false;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if ((arg == "--dir" || arg == "--target") && i + 1 < args.size()) {
            (arg == "--dir" ? request.dir : request.target) = args[++i];
        } else if (arg == "--uninstall") {
            uninstall = true;
        } else if (arg == "--dry-run") {
            request.dry_run = fleet::DryRun::yes;
        } else {
            return usage("legacy-dir: unknown option or missing value '" + arg + "'");
        }
    }
    if (request.dir.empty() || request.target.empty()) {
        return usage("legacy-dir needs --dir and --target");
    }
    if (::geteuid() != 0 && request.dry_run == fleet::DryRun::no) {
        return usage("legacy-dir: run as root");
    }
    fleet::Changes changes;
    const fleet::Status done = uninstall ? fleet::uninstall_legacy_dir(request, changes)
                                         : fleet::install_legacy_dir(request, changes);
    const char* prefix = request.dry_run == fleet::DryRun::yes ? "would " : "";
    for (const std::string& change : changes) {
        std::printf("fleet-admin: %s%s\n", prefix,
                    fleet::escape_untrusted(change, fleet::LineBreaks::escaped).c_str());
    }
    std::fflush(stdout);
    if (!done) {
        std::fprintf(stderr, "fleet-admin: %s\n",
                     fleet::escape_untrusted(done.error().message, fleet::LineBreaks::escaped)
                         .c_str());
        return k_exit_failed;
    }
    return k_exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    ::umask(022);
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        return usage("no command");
    }
    if (args[0] == "--help") {
        std::fputs(k_usage, stdout);
        return k_exit_ok;
    }
    if (args[0] == "--version") {
        std::puts("fleet-admin " FLEET_VERSION);
        return k_exit_ok;
    }
    if (args[0] == "legacy-dir") {
        return legacy_dir({args.begin() + 1, args.end()});
    }
    return usage("unknown command '" + args[0] + "'");
}
