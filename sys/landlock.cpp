#include "sys/landlock.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace fleet {

namespace {

// The kernel's structures (include/uapi/linux/landlock.h), as of ABI 6.
struct RulesetAttr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

struct __attribute__((packed)) PathBeneathAttr {
    uint64_t allowed_access;
    int32_t parent_fd;
};

struct NetPortAttr {
    uint64_t allowed_access;
    uint64_t port;
};

constexpr unsigned k_create_ruleset_version = 1U << 0;
constexpr int k_rule_path_beneath = 1;
constexpr int k_rule_net_port = 2;

#ifndef SYS_landlock_create_ruleset
constexpr long SYS_landlock_create_ruleset = 444;
constexpr long SYS_landlock_add_rule = 445;
constexpr long SYS_landlock_restrict_self = 446;
#endif

long create_ruleset(const RulesetAttr* attr, size_t size, unsigned flags) {
    return ::syscall(SYS_landlock_create_ruleset, attr, size, flags);
}

long add_rule(int ruleset, int type, const void* attr) {
    return ::syscall(SYS_landlock_add_rule, ruleset, type, attr, 0U);
}

} // namespace

int landlock_abi() {
    const long abi = create_ruleset(nullptr, 0, k_create_ruleset_version);
    return abi < 0 ? 0 : static_cast<int>(abi);
}

LandlockHandled landlock_handled(int abi, bool restrict_tcp) {
    using namespace landlock;
    LandlockHandled handled;
    handled.fs = k_write; // every right up to ABI 5; the switch takes away what `abi` lacks
    switch (abi) {
    case 1:
        handled.fs &= ~k_refer;
        [[fallthrough]];
    case 2:
        handled.fs &= ~k_truncate;
        [[fallthrough]];
    case 3:
    case 4:
        handled.fs &= ~k_ioctl_dev;
        break;
    default:
        break;
    }
    if (restrict_tcp && abi >= 4) {
        handled.net = k_net_connect_tcp;
    }
    if (abi >= 6) {
        handled.scoped = k_scope_abstract_unix_socket | k_scope_signal;
    }
    return handled;
}

Result<LandlockRuleset> LandlockRuleset::create(int abi, bool restrict_tcp) {
    const LandlockHandled handled = landlock_handled(abi, restrict_tcp);
    const RulesetAttr attr{handled.fs, handled.net, handled.scoped};
    // A kernel of an older ABI accepts the whole structure as long as the fields it does not
    // know are zero, and they are: landlock_handled only asks for what `abi` has.
    const long fd = create_ruleset(&attr, sizeof attr, 0);
    if (fd < 0) {
        return system_error("landlock_create_ruleset", errno);
    }
    return LandlockRuleset(Fd(static_cast<int>(fd)), handled);
}

Result<bool> LandlockRuleset::allow_beneath(const std::string& path, uint64_t access,
                                            PathMissing missing) {
    const Fd target(::open(path.c_str(), O_PATH | O_CLOEXEC));
    if (!target.valid()) {
        if (errno == ENOENT && missing == PathMissing::skip) {
            return false;
        }
        return system_error("landlock: " + path, errno);
    }
    struct stat info {};
    if (::fstat(target.get(), &info) != 0) {
        return system_error("landlock: fstat " + path, errno);
    }
    PathBeneathAttr rule{access & m_handled.fs, target.get()};
    if (!S_ISDIR(info.st_mode)) {
        rule.allowed_access &= landlock::k_file_rights;
    }
    if (rule.allowed_access == 0) {
        return true; // nothing this ruleset handles is asked for
    }
    if (add_rule(m_fd.get(), k_rule_path_beneath, &rule) != 0) {
        return system_error("landlock_add_rule " + path, errno);
    }
    return true;
}

Status LandlockRuleset::allow_tcp_connect(uint16_t port) {
    const NetPortAttr rule{landlock::k_net_connect_tcp, port};
    if (add_rule(m_fd.get(), k_rule_net_port, &rule) != 0) {
        return system_error("landlock_add_rule port " + std::to_string(port), errno);
    }
    return Ok{};
}

int enter_landlock(const void* ruleset_fd) {
    const int fd = *static_cast<const int*>(ruleset_fd);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0UL, 0UL, 0UL) != 0) {
        return errno;
    }
    if (::syscall(SYS_landlock_restrict_self, fd, 0U) != 0) {
        return errno;
    }
    return 0;
}

} // namespace fleet
