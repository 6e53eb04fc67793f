#include "admin/sudoers.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomic_file.hpp"
#include "base/probe.hpp"
#include "base/trusted_file.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

constexpr std::chrono::seconds k_visudo_timeout{30};
constexpr size_t k_max_small_file = size_t{64} * 1024;

// visudo's answer as one line: its first line of output, or the exit code.
Status run_visudo(const SudoersPaths& paths, const std::vector<std::string>& args,
                  const std::string& what) {
    std::vector<std::string> argv{paths.visudo};
    argv.insert(argv.end(), args.begin(), args.end());
    Result<ProbeResult> result =
        probe_output(argv, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, k_visudo_timeout);
    if (!result) {
        return Error{ErrorKind::system, what + ": " + result.error().message};
    }
    if (!result->succeeded()) {
        std::string first = result->output.substr(0, result->output.find('\n'));
        return Error{ErrorKind::system, what + " failed (visudo " + describe(result->status) +
                                            (first.empty() ? ")" : "): " + first)};
    }
    return Ok{};
}

Status check_sudoers_dir(int fd, const std::string& dir) {
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
        return system_error(dir, errno);
    }
    if (!S_ISDIR(info.st_mode) || info.st_uid != 0 || (info.st_mode & 022) != 0) {
        return input_error(dir + " must be a directory owned by root and not writable by group "
                                 "or others");
    }
    return Ok{};
}

class UmaskScope {
public:
    explicit UmaskScope(mode_t mask) : m_old(::umask(mask)) {}
    UmaskScope(const UmaskScope&) = delete;
    UmaskScope& operator=(const UmaskScope&) = delete;
    ~UmaskScope() { ::umask(m_old); }

private:
    mode_t m_old;
};

bool is_current(int dir_fd, const std::string& name, const std::string& content) {
    Result<std::string> text = read_file_at(dir_fd, name, k_max_small_file);
    struct stat info {};
    return text && *text == content &&
           ::fstatat(dir_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(info.st_mode) && info.st_uid == 0 && info.st_gid == 0 &&
           (info.st_mode & 07777) == 0440;
}

// Writes `content` as `name` in `dir_fd`, root:root 0440, validated alone by visudo before it
// is published.
Status publish_rule(int dir_fd, const std::string& dir, const std::string& name,
                    const std::string& content, const SudoersPaths& paths) {
    AtomicFile file(dir_fd, name, 0440);
    if (Status opened = file.open(); !opened) {
        return opened;
    }
    if (Status written = file.write(content); !written) {
        return written;
    }
    if (Status finished = file.finish(); !finished) {
        return finished;
    }
    if (::fchownat(dir_fd, file.temp_name().c_str(), 0, 0, AT_SYMLINK_NOFOLLOW) != 0) {
        return system_error("chown " + file.temp_name(), errno);
    }
    if (Status valid =
            run_visudo(paths, {"-c", "-s", "-q", "-O", "-P", "-f", dir + "/" + file.temp_name()},
                       "checking the new rule");
        !valid) {
        return valid;
    }
    return file.commit();
}

} // namespace

bool is_valid_sudo_user_name(std::string_view user) {
    if (user.empty() || user.size() > 32) {
        return false;
    }
    const auto lower_digit = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    };
    return (user[0] == '_' || (user[0] >= 'a' && user[0] <= 'z')) &&
           std::all_of(user.begin(), user.end(),
                       [&](char c) { return lower_digit(c) || c == '_' || c == '.' || c == '-'; });
}

std::string sudoers_file_name(std::string_view user) {
    std::string name = "fleet-helper-";
    for (const char c : user) {
        name += c == '.' ? std::string("%2e") : std::string(1, c);
    }
    return name;
}

Result<SudoersInstall> install_sudoers(const std::string& user, const std::string& helper_path,
                                       const SudoersPaths& paths) {
    if (!is_valid_sudo_user_name(user)) {
        return input_error("user '" + user +
                           "' is not a valid user name ([a-z_][a-z0-9_.-]*, at most 32)");
    }
    errno = 0;
    const passwd* account = ::getpwnam(user.c_str());
    if (account == nullptr) {
        return errno == 0 ? input_error("no such user '" + user + "'")
                          : system_error("looking up user " + user, errno);
    }
    if (account->pw_uid == 0) {
        return input_error("user '" + user + "' is root already");
    }
    if (Result<Fd> helper = open_trusted_file(helper_path, "helper " + helper_path, TrustRules{});
        !helper) {
        return helper.error();
    }
    const Fd dir(::open(paths.dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) {
        return system_error(paths.dir, errno);
    }
    if (Status trusted = check_sudoers_dir(dir.get(), paths.dir); !trusted) {
        return trusted.error();
    }
    const UmaskScope umask(022); // files 0440 exactly, whatever the caller's umask
    SudoersInstall install;
    const std::string name = sudoers_file_name(user);
    install.file = paths.dir + "/" + name;
    install.rule = user + " ALL=(root) NOPASSWD: " + helper_path;
    const std::string content = "# fleet-helper's rule (fleet-admin install-sudoers): " + user +
                                " may run this helper, and nothing else, as root.\n" +
                                install.rule + "\n";
    if (is_current(dir.get(), name, content)) {
        return install;
    }
    Result<std::string> previous = read_file_at(dir.get(), name, k_max_small_file);
    if (Status published = publish_rule(dir.get(), paths.dir, name, content, paths); !published) {
        return published.error();
    }
    if (Status whole = run_visudo(paths, {"-c", "-q"}, "checking the whole sudo configuration");
        !whole) {
        const Status restored = previous ? write_file_atomically(dir.get(), name, *previous, 0440)
                                         : Status(::unlinkat(dir.get(), name.c_str(), 0) == 0
                                                      ? Status(Ok{})
                                                      : system_error("remove " + name, errno));
        return Error{ErrorKind::system,
                     whole.error().message + (restored ? "; the previous rule file is back in place"
                                                       : "; restoring the previous rule failed: " +
                                                             restored.error().message)};
    }
    install.changed = true;
    return install;
}

} // namespace fleet
