// `dispatch doctor [--json] [--fix]`: checks the host as a run would see it, one line per check:
//   ok|warn|fail  CHECK  what was found[; fix: what to do]
// or with --json the same findings as one JSON object (doctor_report.hpp), what the guardian's
// timer logs (deploy/systemd/fleet-dispatch-doctor.service); --json is read-only, so the command
// line refuses it with --fix (cli.cpp). Exit 0 when nothing fails (warnings allowed), 1
// otherwise. Runs as root (it does not drop: it must read sudo rights and may chown); not root,
// the checks that need root say so.
//
//   config      the config loads (StrictModes as root) and so does every agent's env_file
//   user        the target user exists
//   ownership   nothing in the runs directory or in the agents' config directories in the
//               user's home (each agent CLI's home_state: ~/.claude, ~/.codex, ... agent_cli.hpp)
//               belongs to another user (a root-owned index once hid a dashboard's whole
//               history). --fix chowns such entries to the user. The walk is openat/fstatat/
//               fchownat with O_NOFOLLOW and AT_SYMLINK_NOFOLLOW at every step, so a symlink
//               the user planted can never turn root's chown onto another file.
//   sudo        `sudo -n -l -U USER`: rights that reach root warn when no_new_privs is off
//   groups      sudo, adm, lxd, docker: warn when no_new_privs is off; lxd and docker also with
//               it on, since they reach root without any setuid program
//   agent NAME  each agent's binary is found in the agents' PATH and answers --version
//   ssm-agent   amazon-ssm-agent.service or the snap's unit has Restart=always (systemctl cat,
//               or the unit files and drop-ins when systemd is not running); absent: ok
//
// Tested end to end (tests/integration/operate_doctor.cpp, install_test.cpp): its checks read
// the host as root, sudo rights and real users included.
#pragma once

#include "dispatch/cli.hpp"

namespace fleet {

int run_doctor(const CommandLine& line);

} // namespace fleet
