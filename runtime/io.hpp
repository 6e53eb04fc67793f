// Small checked I/O helpers on raw fds: whole writes, whole reads, whole files.
#pragma once

#include <string>
#include <string_view>

#include "fd.hpp"
#include "result.hpp"

namespace fleet {

// Writes all of `data`, retrying short writes and EINTR. Returns 0 or the errno that stopped it.
int write_all(int fd, std::string_view data);

// Reads `path` (relative to `dir_fd`, or absolute) whole. O_NOFOLLOW: a symlink is refused, so
// a file planted as a link cannot redirect the read. `max_bytes` caps the size.
Result<std::string> read_file_at(int dir_fd, const std::string& path, size_t max_bytes);

// Reads everything from an open fd, up to `max_bytes` (an error beyond).
Result<std::string> read_fd(int fd, size_t max_bytes);

} // namespace fleet
