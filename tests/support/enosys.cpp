// fl-enosys WHAT COMMAND [ARG...]: runs COMMAND under a seccomp filter that fails the system
// calls WHAT names with ENOSYS, as an old kernel or a container runtime's profile would
// (containers/crun#111). WHAT: "openat2" (fleet-diag's fallback resolver must refuse what
// openat2 refuses) or "landlock" (the three landlock_* calls: dispatch must record, or with
// confine = "required" refuse, an agent it cannot confine).
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace {

#if defined(__x86_64__)
constexpr unsigned k_arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr unsigned k_arch = AUDIT_ARCH_AARCH64;
#else
#error "fl-enosys: add this architecture's AUDIT_ARCH"
#endif

// The same numbers on every architecture (the generic syscall table).
constexpr unsigned k_openat2 = 437;
constexpr unsigned k_landlock_first = 444; // create_ruleset, add_rule, restrict_self
constexpr unsigned k_landlock_last = 446;

} // namespace

int main(int argc, char** argv) {
    if (argc < 3 ||
        (std::strcmp(argv[1], "openat2") != 0 && std::strcmp(argv[1], "landlock") != 0)) {
        std::fputs("usage: fl-enosys openat2|landlock COMMAND [ARG...]\n", stderr);
        return 2;
    }
    const bool landlock = std::strcmp(argv[1], "landlock") == 0;
    const unsigned first = landlock ? k_landlock_first : k_openat2;
    const unsigned last = landlock ? k_landlock_last : k_openat2;
    std::vector<sock_filter> filter = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k_arch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, first, 0, 2),
        BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, last, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(filter.size()), filter.data()};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
        std::perror("fl-enosys: seccomp");
        return 2;
    }
    execv(argv[2], argv + 2);
    std::perror("fl-enosys: execv");
    return 127;
}
