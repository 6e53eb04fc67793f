// fleet-admin: what root does to set a host up, never reached by an agent (it is not in any
// sudoers rule; fleet-helper is the agents' one road to root). fleet-dispatch-setup calls it.
//
//   fleet-admin legacy-dir --dir DIR --target PATH [--uninstall] [--dry-run]
//       the old scripts' directory: six links to PATH, immutable (legacy_dir.hpp)
//   fleet-admin install-sudoers --user USER [--helper /usr/sbin/fleet-helper]
//       fleet-helper's one sudoers rule for USER (sudoers.hpp)
//   fleet-admin totp enroll [--force] [--policy /etc/fleet-dispatch/helper.toml]
//       a new TOTP secret where the helper's policy says, its otpauth:// URI and a QR code
//   fleet-admin --help | --version
//
// As root only. Each change is printed as one line ("would ..." with --dry-run). Exit: 0 done (or
// nothing to do), 1 refused or failed (the line says why; what was done before it is listed),
// 2 usage.
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "admin/legacy_dir.hpp"
#include "admin/sudoers.hpp"
#include "base/probe.hpp"
#include "base/untrusted_text.hpp"
#include "guard/helper/policy.hpp"
#include "guard/helper/totp.hpp"
#include "sys/fd.hpp"
#include "sys/host.hpp"
#include "sys/io.hpp"
#include "sys/version.hpp"

namespace {

constexpr int k_exit_ok = 0;
constexpr int k_exit_failed = 1;
constexpr int k_exit_usage = 2;

constexpr const char* k_usage =
    "usage: fleet-admin legacy-dir --dir DIR --target PATH [--uninstall] [--dry-run]\n"
    "       fleet-admin install-sudoers --user USER [--helper PATH]\n"
    "       fleet-admin totp enroll [--force] [--policy PATH]\n"
    "       fleet-admin --help | --version\n";
constexpr const char* k_default_helper = "/usr/sbin/fleet-helper";
constexpr const char* k_qrencode = "/usr/bin/qrencode";

// One line on stderr, escaped; returns k_exit_failed.
int failed(const std::string& why) {
    std::fprintf(stderr, "fleet-admin: %s\n",
                 fleet::escape_untrusted(why, fleet::LineBreaks::escaped).c_str());
    return k_exit_failed;
}

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
        return failed(done.error().message);
    }
    return k_exit_ok;
}

int install_sudoers(const std::vector<std::string>& args) {
    std::string user;
    std::string helper = k_default_helper;
    for (size_t i = 0; i < args.size(); ++i) {
        if ((args[i] == "--user" || args[i] == "--helper") && i + 1 < args.size()) {
            (args[i] == "--user" ? user : helper) = args[i + 1];
            ++i;
        } else {
            return usage("install-sudoers: unknown option or missing value '" + args[i] + "'");
        }
    }
    if (user.empty()) {
        return usage("install-sudoers needs --user USER");
    }
    if (::geteuid() != 0) {
        return usage("install-sudoers: run as root");
    }
    fleet::Result<fleet::SudoersInstall> install = fleet::install_sudoers(user, helper);
    if (!install) {
        return failed(install.error().message);
    }
    std::printf("fleet-admin: %s %s: %s\n",
                install->changed ? "wrote" : "already current:", install->file.c_str(),
                install->rule.c_str());
    return k_exit_ok;
}

// The URI as a QR code for a terminal, by qrencode(1) reading it from a memfd (never argv,
// which every local user can read in /proc).
std::string qr_code(const std::string& uri) {
    if (::access(k_qrencode, X_OK) != 0) {
        return "(install qrencode to see this as a QR code)\n";
    }
    const fleet::Fd memory(::memfd_create("otpauth", MFD_CLOEXEC));
    if (!memory.valid() || fleet::write_all(memory.get(), uri) != 0 ||
        ::lseek(memory.get(), 0, SEEK_SET) != 0) {
        return "(no QR code: " + std::string(std::strerror(errno)) + ")\n";
    }
    fleet::ProbeLimits limits;
    limits.timeout = std::chrono::seconds(10);
    limits.stdin_fd = memory.get();
    limits.workdir = "/";
    fleet::Result<fleet::ProbeResult> result =
        fleet::run_bounded({k_qrencode, "-t", "UTF8", "-o", "-"}, {"PATH=/usr/bin:/bin"}, limits);
    if (!result || !result->succeeded()) {
        return "(qrencode failed)\n";
    }
    return result->output;
}

int totp_enroll(const std::vector<std::string>& args) {
    bool force = false;
    std::string policy_path = fleet::k_default_policy_path;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--force") {
            force = true;
        } else if (args[i] == "--policy" && i + 1 < args.size()) {
            policy_path = args[++i];
        } else {
            return usage("totp enroll: unknown option or missing value '" + args[i] + "'");
        }
    }
    if (::geteuid() != 0) {
        return usage("totp enroll: run as root");
    }
    // Where the secret goes is the helper's policy's to say: the same one it verifies against.
    fleet::Result<fleet::HelperPolicy> policy = fleet::load_policy(policy_path);
    if (!policy) {
        return failed(policy.error().message);
    }
    fleet::Result<std::string> secret = fleet::enroll_totp(policy->totp_secret, force);
    if (!secret) {
        return failed(secret.error().message);
    }
    const std::string uri = fleet::otpauth_uri(*secret, "fleet-helper@" + fleet::host_name());
    std::printf("TOTP secret written to %s (root only, 0600).\n"
                "Add it to an authenticator app: scan the code or enter the URI.\n\n%s\n\n%s",
                policy->totp_secret.c_str(), uri.c_str(), qr_code(uri).c_str());
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
        std::printf("fleet-admin %s\n", fleet::version());
        return k_exit_ok;
    }
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (args[0] == "legacy-dir") {
        return legacy_dir(rest);
    }
    if (args[0] == "install-sudoers") {
        return install_sudoers(rest);
    }
    if (args[0] == "totp" && !rest.empty() && rest[0] == "enroll") {
        return totp_enroll({rest.begin() + 1, rest.end()});
    }
    return usage("unknown command '" + args[0] + "'");
}
