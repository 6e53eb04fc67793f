// What fleet-helper does to its own process before it reads a word of the request: the state
// sudo hands down is the caller's, and none of it may end the helper between an action and
// its record, or end an action halfway.
//
//   hold_signals             block every catchable signal but the fault ones (SEGV, BUS, FPE,
//                            ILL, ABRT, TRAP, SYS): sudo relays TERM, INT, HUP, QUIT, USR1,
//                            USR2, ALRM... from the caller, and a caller may signal its own sudo.
//                            The actions get every signal unblocked (probe.hpp).
//   harden_helper_process    harden_guard_process (tools.hpp), then root's resource limits
//                            instead of the caller's (a small RLIMIT_CPU, AS or NOFILE could end
//                            dpkg halfway through an unpack the simulation passed, or the helper
//                            before its end record). Where root lacks CAP_SYS_RESOURCE (a
//                            container) a hard limit stays and the soft one is raised to it, but
//                            for CPU time and file size, whose signals would end the helper: those
//                            must be unlimited, or the helper refuses to serve.
//   held_signals_pending     which held signals arrived meanwhile, for the audit record
#pragma once

#include <string>
#include <vector>

namespace fleet {

// False, errno set, when the mask cannot be set.
bool hold_signals();

// Empty, or what stopped it (then nothing is served).
std::string harden_helper_process();

// "SIGTERM", ...: the held signals pending now, but the routine ones (CHLD, PIPE, WINCH, URG).
std::vector<std::string> held_signals_pending();

} // namespace fleet
