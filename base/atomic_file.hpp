// AtomicFile: replace a file so that readers see the old or the new content, never a torn one,
// and a crash or power loss cannot leave it empty (docs/design/performance.md §9; modelled on
// ccache's AtomicFile).
//
//   openat(dir, ".<name>.<random>.tmp", O_CREAT|O_EXCL|O_WRONLY|O_CLOEXEC|O_NOFOLLOW, mode)
//   fchmod(tmp, mode)   — the mode is exact: a umask never narrows it
//   write all; fsync(tmp); close (checked); renameat(tmp -> name); fsync(dir)
//
// commit() does the last four (finish() the first two of them); a failure at any step is returned
// and the temp is unlinked. The destructor unlinks an uncommitted temp, so an error path never
// leaves litter behind.
#pragma once

#include <string>
#include <string_view>
#include <sys/types.h>

#include "sys/fd.hpp"
#include "sys/result.hpp"

namespace fleet {

class AtomicFile {
public:
    // `dir_fd` must stay open for the object's life; `name` is a plain file name in it.
    AtomicFile(int dir_fd, std::string name, mode_t mode = 0600);
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    ~AtomicFile();

    // Creates the temp file. Must be called (and succeed) before write().
    Status open();
    Status write(std::string_view data);
    // fsync and close the temp file without publishing it, so that a validator can read it at
    // temp_name() first (fleet-helper's sudoers rule); commit() then only renames.
    Status finish();
    Status commit();
    const std::string& temp_name() const { return m_temp_name; }

private:
    int m_dir_fd;
    std::string m_name;
    std::string m_temp_name;
    mode_t m_mode;
    Fd m_fd;
    bool m_committed = false;
};

// open + write + commit in one call.
Status write_file_atomically(int dir_fd, const std::string& name, std::string_view data,
                             mode_t mode = 0600);

} // namespace fleet
