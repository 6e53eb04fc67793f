// The runs directory: one directory per run, named by its id, mode 0700, owned by the user
// dispatch runs as (it is created after the privilege drop, so root never writes here).
//
// Layout of a run directory (docs/dispatch.md, "Files"):
//   run.json  prompt.txt  <agent>.log  status.json  status  runner.log  lock  work-<agent>/
//
// The runner holds flock(LOCK_EX) on `lock` for the whole run. A reader that finds state
// "running" while it can take the lock reports "lost": the runner was SIGKILLed or the host
// rebooted. Readers open every file as open_regular_at does (io.hpp): a file planted as a
// symlink is refused, and a FIFO, a device or a socket can neither block nor feed a reader.
#pragma once

#include <string>
#include <vector>

#include "base/clock.hpp"
#include "runner/status.hpp"
#include "sys/fd.hpp"
#include "sys/result.hpp"

namespace fleet {

struct RunDir {
    std::string id;
    std::string path; // absolute
    Fd dir;           // O_DIRECTORY, for *at() calls
};

class RunStore {
public:
    explicit RunStore(std::string runs_dir);

    const std::string& path() const { return m_path; }

    // mkdir -p of the runs directory, 0700 for each directory it creates; checks the result is
    // a directory owned by the calling user.
    Status ensure_exists() const;

    // A new run directory with a fresh id: mkdir fails on an existing name, so concurrent
    // dispatches never share one; retries with a new id.
    Result<RunDir> create_run(WallTime now) const;

    // Valid run ids in the directory, newest first.
    Result<std::vector<std::string>> list_ids() const;

    // Opens an existing run directory; `id` must be a valid run id.
    Result<RunDir> open_run(const std::string& id) const;

    // status.json of a run, with "running" turned into "lost" when nobody holds the lock, and
    // run_id set to `id` (what the file says is not trusted: an agent may have rewritten it).
    // A run without status.json yet reads as running (lock held) or lost (lock free).
    Result<RunStatus> read_status(const std::string& id) const;

    // The same as compact JSON text (compact_status_json), for `list --json`.
    Result<CompactStatus> read_status_json(const std::string& id) const;

private:
    std::string m_path;
};

// flock(LOCK_EX|LOCK_NB) on `lock` in a run directory; the Fd holds the lock until closed.
Result<Fd> acquire_run_lock(int dir_fd);

// True when somebody holds the run lock (a running runner).
bool run_lock_is_held(int dir_fd);

} // namespace fleet
