// Dropping root to an Identity, and proving the drop took.
//
// Sequence (docs/design/privilege-drop.md §5, §6), each call checked, single-threaded:
//   1. prctl(PR_SET_NO_NEW_PRIVS, 1) when asked: execve can then never grant privileges
//      again (setuid sudo, file capabilities). Failure: system error.
//   2. setgroups(identity.groups): first, while we still have CAP_SETGID; otherwise root's
//      supplementary groups (0, disk, adm, docker…) survive. Failure: system error.
//   3. setresgid(g, g, g): real, effective and saved, so no saved gid 0 can be restored.
//   4. setresuid(u, u, u): last, since it gives up CAP_SETUID/CAP_SETGID. The kernel clears
//      the permitted, effective and ambient capability sets here (no KEEPCAPS is set).
// glibc broadcasts set*id calls to every thread; we still require a single thread, because
// callers also fork and use NSS around this.
//
// Verification, which no other launcher does (verify_credentials):
//   getresuid() == (u, u, u); getresgid() == (g, g, g); getgroups() == identity.groups as a set;
//   setuid(0) and setgid(0) fail with EPERM; /proc/self/status shows CapPrm, CapEff and CapAmb
//   of 0, and NoNewPrivs 1 when it was asked for. Anything else is an Error: the caller must
//   not exec (fleet-launch exits 111).
#pragma once

#include "launch/identity.hpp"
#include "sys/result.hpp"

namespace fleet {

enum class NoNewPrivs { no, yes };

// Steps 1-4 above. On failure the process is in an unknown state between root and the
// target: the caller must exit without executing anything.
Status drop_privileges(const Identity& identity, NoNewPrivs no_new_privs);

// Sets PR_SET_NO_NEW_PRIVS alone (the not-root path, where no drop happens).
Status set_no_new_privs();

// The checklist above, against the calling process.
Status verify_credentials(const Identity& identity, NoNewPrivs no_new_privs);

// Refuses a launcher installed setuid or setgid: real and effective ids differ, or the
// executable (/proc/self/exe) carries S_ISUID or S_ISGID.
Status refuse_setid_install();

} // namespace fleet
