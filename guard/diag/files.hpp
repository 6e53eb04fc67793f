// fleet-diag's file commands (cat, head, tail, ls, stat), answered from a pinned fd, never by
// running the tools (docs/design/restricted-channels.md §6). For a PATH:
//
//   1. The allowlisted root that holds it (longest match); none: refused.
//   2. open(root, O_PATH|O_NOFOLLOW) then, beneath it, openat2(parent dir, O_PATH|O_DIRECTORY)
//      and openat2(parent fd, last component, O_PATH|O_NOFOLLOW), both with RESOLVE_BENEATH |
//      RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS: any symlink or escape on the way is refused
//      (ELOOP, EXDEV). openat2 missing or filtered (ENOSYS, EPERM): the same by a walk of
//      openat(O_PATH|O_NOFOLLOW) per component, refusing symlinks.
//   3. fstat the O_PATH fd: a regular file (or a directory for ls and stat), never a FIFO,
//      socket or device (nothing was opened for reading yet, so nothing was triggered).
//   4. Refused when its (st_dev, st_ino) is denied (every spelling of a denied path, bind
//      mounts included), when a regular file has more than one hard link, or when its directory
//      or any directory above it (walked with "..", up to /) is a denied directory.
//   5. Only then reopened for reading through /proc/self/fd/N (O_RDONLY|O_NONBLOCK|O_NOCTTY),
//      and the identity compared again; read with a byte cap.
//
// The denied identities are built per request from glob patterns (stat follows links, so a
// denied path that is a symlink denies its target); denied directories are also walked, to a
// bounded depth, as far as the caller may read them, so their files are denied wherever they
// are mounted or linked.
#pragma once

#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

#include "guard/diag/request.hpp"
#include "sys/fd.hpp"
#include "sys/result.hpp"

namespace fleet {

struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    bool operator==(const FileId&) const = default;
    bool operator<(const FileId& other) const {
        return dev != other.dev ? dev < other.dev : ino < other.ino;
    }
};

class DenySet {
public:
    static DenySet build(const std::vector<std::string>& patterns);

    bool denies(const FileId& id) const { return m_files.contains(id) || m_dirs.contains(id); }
    bool denies_directory(const FileId& id) const { return m_dirs.contains(id); }

private:
    void add_tree(int dir_fd, int depth, size_t& budget);

    std::set<FileId> m_files;
    std::set<FileId> m_dirs;
};

// How paths are resolved: openat2, or the per-component walk (tests force it with seccomp).
enum class Resolver { openat2, walk };

struct FileAnswer {
    std::string output;     // raw bytes: the caller escapes them
    bool truncated = false; // the cap cut it
    FileId id;              // what was read, for the audit line
};

// Runs a file command. invalid_input: refused (not under a root, denied, symlink, special
// file, hard link); system: could not be read (missing, permission, I/O).
Result<FileAnswer> run_file_command(const DiagRequest& request,
                                    const std::vector<std::string>& roots, const DenySet& deny,
                                    size_t max_output);

// Which resolver this process will use (openat2 unless the kernel or a filter refuses it).
Resolver active_resolver();

} // namespace fleet
