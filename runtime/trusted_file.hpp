// sshd's StrictModes for files whose content decides what root does (dispatch's config,
// fleet-helper's policy and binary): whoever can write the file, or rename anything above it,
// chooses what root starts.
//
//   fstat(fd) (by the caller)  the file: regular, owned by root, not writable by group/others
//   realpath(path)             symlinks resolved, so the directories checked are the real ones
//   stat(each ancestor)        owned by root, not writable by group/others; a sticky
//                              directory (/tmp) passes only when `ancestors` allows it
#pragma once

#include <optional>
#include <string>
#include <sys/stat.h>

#include "result.hpp"

namespace fleet {

enum class StickyAncestors { allowed, refused };

// `file` is the fstat of the already opened `path`; `subject` names it in errors
// ("config /etc/x.toml"). A failed check is invalid_input, a failed system call system.
Status check_root_owned(const std::string& path, const struct stat& file,
                        const std::string& subject, StickyAncestors ancestors);

// Opens `path` (O_NOFOLLOW|O_NONBLOCK: no symlink, no FIFO to hang on), checks it as above and
// reads it whole, at most `max_bytes`. nullopt when it does not exist and `missing_ok`.
// Errors name `subject`.
Result<std::optional<std::string>> read_root_owned_file(const std::string& path,
                                                        const std::string& subject,
                                                        StickyAncestors ancestors, size_t max_bytes,
                                                        bool missing_ok);

} // namespace fleet
