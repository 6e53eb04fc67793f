// The one way a child is set up between fork and exec, and the one way it is started.
//
// apply_child_setup runs, in this order, the steps a ChildSetup asks for, each checked; the
// first that fails stops it and is returned with its errno:
//   1. session     setsid() (new session and process group, no controlling terminal: the
//                  child cannot open /dev/tty nor push keystrokes into the caller's terminal),
//                  or setpgid(0, 0) (own process group only), or nothing
//   2. terminal    ioctl(TIOCSCTTY) on the given fd: it becomes the controlling terminal
//   3. hook        the caller's step while the child is still who the parent was: the drop to
//                  another user (launch/credentials), confinement
//   4. death       prctl(PR_SET_PDEATHSIG), then getppid() against the parent's pid saved
//                  before fork (a parent that died in between: ESRCH). After the hook, since
//                  a credential change clears the death signal
//   5. stdio       dup2 of each given fd onto 0, 1, 2 (k_null: /dev/null, opened O_CLOEXEC)
//   6. workdir     chdir, after the hook: entered as the user the child now is
//   7. signals     the mask emptied and every disposition SIG_DFL (exec.hpp reset_signals)
//   8. fds         every fd >= 3 close-on-exec (exec.hpp mark_fds_cloexec)
// Only what is set in the ChildSetup runs. Everything it points to is prepared before fork.
//
// spawn_process forks, applies the setup in the child and execs (exec.hpp exec_command, PATH
// from the child's environment); the child reports a failed step (or exec) through a
// close-on-exec pipe as {step, errno} and _exits 127, so the parent learns which step failed
// and why, and a successful exec closes the pipe with nothing written.
#pragma once

#include <array>
#include <string>
#include <sys/types.h>
#include <vector>

#include "sys/result.hpp"

namespace fleet {

enum class ChildSession { inherit, own_group, new_session };

enum class ChildStep { none, session, terminal, hook, death, stdio, workdir, signals, fds, exec };

// "setsid", "chdir", "exec"...: what a failed step was, for messages.
const char* child_step_name(ChildStep step);

struct ChildFailure {
    ChildStep step = ChildStep::none;
    int error = 0; // errno of the failed step
    bool failed() const { return step != ChildStep::none; }
};

// A step of the caller's own (3. hook): returns 0, or the errno that stops the child.
using ChildHook = int (*)(const void* context);

struct ChildSetup {
    static constexpr int k_keep = -1; // stdio: leave this fd as it is
    static constexpr int k_null = -2; // stdio: /dev/null

    ChildSession session = ChildSession::new_session;
    int controlling_terminal = -1; // TIOCSCTTY on this fd; -1: none
    ChildHook hook = nullptr;      // with `hook_context`
    const void* hook_context = nullptr;
    int death_signal = 0; // 0: none
    pid_t parent = 0;     // getpid() of the parent, taken before fork (death)
    std::array<int, 3> stdio = {k_keep, k_keep, k_keep};
    const char* workdir = nullptr; // nullptr: stay
    bool reset_signals = true;
    bool cloexec_fds = true;
};

// Applies `setup` in a freshly forked child. Allocates nothing (the hook aside).
ChildFailure apply_child_setup(const ChildSetup& setup);

// Forks; in the child applies `setup` and execs `argv` (argv[0] a path, or a name looked up
// in PATH from `envp`). The pid once exec succeeded; an Error naming the step and its errno
// otherwise (the child is reaped).
Result<pid_t> spawn_process(const ChildSetup& setup, const std::vector<std::string>& argv,
                            const std::vector<std::string>& envp);

// The child's side of a failure report: a close-on-exec pipe made before fork. The child
// writes what failed (report) and _exits; the parent closes its copy of the write end and reads
// (collect): nothing when the exec succeeded.
class ChildErrorPipe {
public:
    ChildErrorPipe();
    ~ChildErrorPipe();
    ChildErrorPipe(const ChildErrorPipe&) = delete;
    ChildErrorPipe& operator=(const ChildErrorPipe&) = delete;

    bool valid() const { return m_read >= 0; }
    int error() const { return m_error; } // errno of pipe2, when not valid

    // In the child.
    void report(const ChildFailure& failure) const;
    // In the parent, after fork (or after the spawner returned): what the child reported.
    ChildFailure collect();

private:
    int m_read = -1;
    int m_write = -1;
    int m_error = 0;
};

} // namespace fleet
