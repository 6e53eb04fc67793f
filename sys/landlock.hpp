// Landlock: the kernel's unprivileged access control (docs/design/confinement.md §2), the
// mechanics only; which paths an agent gets is dispatch's decision (dispatch/agent_access.hpp).
//
// Parent, before fork (allocates, may fail, each call checked):
//   1. landlock_abi()            landlock_create_ruleset(NULL, 0, VERSION): the ABI, or 0 when
//                                the kernel has none (ENOSYS) or it is off (EOPNOTSUPP)
//   2. LandlockRuleset::create   landlock_create_ruleset with what this ABI can handle: every
//                                filesystem right it knows (a fall-through switch drops what
//                                it lacks), TCP connect (ABI 4) when asked, and the signal and
//                                abstract-socket scopes (ABI 6); the fd is O_CLOEXEC
//   3. allow_beneath             open(O_PATH | O_CLOEXEC), fstat, landlock_add_rule with the
//                                rights masked to what is handled (and to file rights when the
//                                path is not a directory: the kernel refuses directory rights
//                                on a file with EINVAL)
//   4. allow_tcp_connect         landlock_add_rule(LANDLOCK_RULE_NET_PORT)
// Child, after fork, before exec (enter_landlock, async-signal-safe, no allocation):
//   5. prctl(PR_SET_NO_NEW_PRIVS): required for an unprivileged restrict_self; from here no
//      setuid program (sudo) can raise the child's privileges
//   6. landlock_restrict_self(fd, 0): the child and everything it execs or forks is in the
//      domain. A forked child has one thread, so no TSYNC is needed. Files already open are not
//      restricted: the one child setup marks every inherited fd close-on-exec.
// The kernel ABI is stable; its constants are defined here so that an older linux/landlock.h
// (Debian 12 ships ABI 2) does not limit what can be asked of a newer kernel.
#pragma once

#include <cstdint>
#include <string>

#include "sys/fd.hpp"
#include "sys/result.hpp"

namespace fleet {

namespace landlock {

// Filesystem rights (LANDLOCK_ACCESS_FS_*), by the ABI that added them.
constexpr uint64_t k_execute = 1ULL << 0;
constexpr uint64_t k_write_file = 1ULL << 1;
constexpr uint64_t k_read_file = 1ULL << 2;
constexpr uint64_t k_read_dir = 1ULL << 3;
constexpr uint64_t k_remove_dir = 1ULL << 4;
constexpr uint64_t k_remove_file = 1ULL << 5;
constexpr uint64_t k_make_char = 1ULL << 6;
constexpr uint64_t k_make_dir = 1ULL << 7;
constexpr uint64_t k_make_reg = 1ULL << 8;
constexpr uint64_t k_make_sock = 1ULL << 9;
constexpr uint64_t k_make_fifo = 1ULL << 10;
constexpr uint64_t k_make_block = 1ULL << 11;
constexpr uint64_t k_make_sym = 1ULL << 12;
constexpr uint64_t k_refer = 1ULL << 13;     // ABI 2
constexpr uint64_t k_truncate = 1ULL << 14;  // ABI 3
constexpr uint64_t k_ioctl_dev = 1ULL << 15; // ABI 5

// What may be granted on a file that is not a directory.
constexpr uint64_t k_file_rights =
    k_execute | k_write_file | k_read_file | k_truncate | k_ioctl_dev;

// Read and execute: the system, an agent's CLI.
constexpr uint64_t k_read = k_execute | k_read_file | k_read_dir;
// Everything: an agent's own work, state and temporary directory.
constexpr uint64_t k_write = (k_ioctl_dev << 1) - 1;

// TCP (LANDLOCK_ACCESS_NET_*, ABI 4) and scopes (LANDLOCK_SCOPE_*, ABI 6).
constexpr uint64_t k_net_connect_tcp = 1ULL << 1;
constexpr uint64_t k_scope_abstract_unix_socket = 1ULL << 0;
constexpr uint64_t k_scope_signal = 1ULL << 1;

} // namespace landlock

// The Landlock ABI the kernel offers: 0 when it has none.
int landlock_abi();

// What a ruleset made at `abi` handles, i.e. what it denies unless a rule allows it.
struct LandlockHandled {
    uint64_t fs = 0;
    uint64_t net = 0;
    uint64_t scoped = 0;
};
LandlockHandled landlock_handled(int abi, bool restrict_tcp);

enum class PathMissing { skip, fail };

class LandlockRuleset {
public:
    // Precondition: abi >= 1.
    static Result<LandlockRuleset> create(int abi, bool restrict_tcp);

    // Allows `access` (landlock:: rights) beneath `path`, resolved now (symlinks followed: a
    // rule holds the inode, not the name). A path that does not exist is skipped (false) or an
    // error, as `missing` says.
    Result<bool> allow_beneath(const std::string& path, uint64_t access, PathMissing missing);

    // Allows connecting to TCP `port`. Precondition: created with restrict_tcp at ABI >= 4.
    Status allow_tcp_connect(uint16_t port);

    const LandlockHandled& handled() const { return m_handled; }
    int fd() const { return m_fd.get(); }

private:
    LandlockRuleset(Fd fd, LandlockHandled handled) : m_fd(std::move(fd)), m_handled(handled) {}

    Fd m_fd;
    LandlockHandled m_handled;
};

// A ChildHook (sys/child.hpp): steps 5 and 6 above, `ruleset_fd` a `const int*`. Returns 0, or
// the errno of the step that failed.
int enter_landlock(const void* ruleset_fd);

} // namespace fleet
