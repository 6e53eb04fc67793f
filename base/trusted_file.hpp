// The one reader of files whose content decides what root does: dispatch's config and env
// files, fleet-helper's and fleet-diag's policies, the TOTP secret, and the executables the
// guard programs run. sshd's StrictModes made explicit: whoever can write the file, or rename
// anything above it, chooses what root starts or which secret it hands on. Each caller states
// its rules (TrustRules); the checks are the same everywhere:
//
//   open(path, O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_NOCTTY|O_CLOEXEC)
//                     no symlink in the last component, and a FIFO cannot hang root
//                     (ENOENT with IfMissing::absent: no file, not an error)
//   fstat(fd)         a regular file; owned by root (Owner::root); none of `forbidden` bits
//   readlink(/proc/self/fd/N)
//                     the kernel's own name for what was opened; it must be the path as given
//                     (made absolute, "//" and "." taken out): a symlink anywhere on the way is
//                     refused, since one in a directory someone else can write could be
//                     re-pointed at any other root-only file
//   for each directory of that name, from the file up to "/":
//     openat(parent, name, O_PATH|O_NOFOLLOW|O_DIRECTORY); fstat
//                     owned by root and not writable by group or others (Ancestors), so no
//                     one but root can replace the file or a directory above it
//   fstatat(dir, file) has the fd's (st_dev, st_ino)
//                     the directories checked are the ones the file is in (a file deleted or
//                     moved meanwhile fails here)
//   read(fd), at most `max_bytes`
//
// A failed check is ErrorKind::invalid_input naming `subject` and the rule; a failed system call
// is ErrorKind::system. Nothing is read from a file that fails a check.
#pragma once

#include <optional>
#include <string>
#include <sys/stat.h>

#include "sys/fd.hpp"
#include "sys/result.hpp"

namespace fleet {

enum class Owner {
    root,   // the file must be root's
    anyone, // any owner (dispatch run by a plain user reads its own config)
};

// What the directories above the file may be. All but `unchecked` require owner root.
enum class Ancestors {
    not_writable,      // not writable by group or others
    sticky_ok,         // ... or world-writable with the sticky bit (/tmp): others cannot
                       // replace root's entries there
    group_writable_ok, // writable by their group but not by others: Ubuntu's /var/log is
                       // root:syslog 0775 (for a log directory of root's own below it)
    unchecked,
};

enum class IfMissing { error, absent };

struct TrustRules {
    Owner owner = Owner::root;
    mode_t forbidden = 022; // mode bits the file must not have: 022 no group/other write,
                            // 007 nothing for others, 077 root only
    Ancestors ancestors = Ancestors::not_writable;
    IfMissing missing = IfMissing::error;
    size_t max_bytes = size_t{1} << 20;
};

// Opens `path` and checks it (and its directories) against `rules`. An invalid Fd (no Error)
// when it does not exist and rules.missing is IfMissing::absent.
Result<Fd> open_trusted_file(const std::string& path, const std::string& subject,
                             const TrustRules& rules);

// open_trusted_file, then the content. nullopt when absent and allowed to be.
Result<std::optional<std::string>>
read_trusted_file(const std::string& path, const std::string& subject, const TrustRules& rules);

// The directory checks alone, for a directory already opened as `dir_fd` (an audit log's):
// the directory itself must be root's and not writable by group or others, and its ancestors
// as `ancestors` says.
Status check_trusted_directory(int dir_fd, const std::string& subject, Ancestors ancestors);

} // namespace fleet
