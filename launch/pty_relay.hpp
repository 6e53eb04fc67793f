// A command that must have a terminal gets a new one, never the caller's (root's). Like sudo's
// use_pty and `su --pty`: fleet-launch keeps root's terminal to itself and relays bytes between
// it and a fresh pseudo-terminal, on which the command is its session's leader. A command that
// shared root's terminal could push keystrokes into root's shell with TIOCSTI (CVE-2016-2779)
// or, from a background child, read what root types after it ended; on its own pty it can
// only type into, and read, its own terminal.
//
// start_pty_relay, in order, each step checked (a failure is returned before anything runs):
//   posix_openpt(O_RDWR|O_NOCTTY|O_CLOEXEC), grantpt, unlockpt, ptsname_r
//   open the slave O_RDWR|O_NOCTTY|O_CLOEXEC; give it the caller's termios and window size
//   fork
//   child:  setsid(); ioctl(slave, TIOCSCTTY): the pty is its controlling terminal; dup2 the
//           slave onto each of fd 0-2 that was a terminal (the others stay as they were); it
//           returns to the caller's sequence (drop, verify, exec) with Role::command
//   parent: still root, never runs anything: the caller's terminal in raw mode when stdin is a
//           terminal in the foreground (so ^C, ^Z reach the command's terminal as bytes);
//           poll(2) on stdin, the pty master and a self-pipe of SIGCHLD, SIGWINCH, SIGTERM,
//           SIGHUP, SIGINT and SIGQUIT: stdin -> master, master -> the caller's terminal
//           (the first of fd 1, 2, 0 that is one), a window change -> TIOCSWINSZ on the master,
//           TERM/HUP/INT/QUIT -> the command's process group. Each turn copies at most 64 KiB
//           of output, so a writer that never stops cannot starve signals or stdin. When the
//           command ends: what the master holds is written out (1 MiB at most: a child left
//           writing on the pty cannot keep the relay alive), the master closed (whatever the
//           command left on the pty gets EIO and SIGHUP, never root's terminal), the caller's
//           terminal modes restored, and the parent returns the command's status as a shell
//           code.
//
// Tested end to end only (tests/integration/fleet_launch_terminal.cpp): the relay is a real pty, a
// real session and real signals between fleet-launch and its command.
#pragma once

#include "sys/result.hpp"

namespace fleet {

struct PtyRelay {
    enum class Role { command, relay };
    Role role = Role::command;
    int exit_code = 0; // Role::relay: what the caller exits with (128 + N for signal N)
};

// Precondition: one of fd 0-2 is a terminal. In the child returns Role::command; in the parent
// returns Role::relay once the command has ended.
Result<PtyRelay> start_pty_relay();

} // namespace fleet
