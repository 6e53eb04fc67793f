// Small checked I/O helpers on raw fds: whole writes, whole reads, whole files.
#pragma once

#include <string>
#include <string_view>

#include "sys/fd.hpp"
#include "sys/result.hpp"

namespace fleet {

// Writes all of `data`, retrying short writes and EINTR. Returns 0 or the errno that stopped it.
int write_all(int fd, std::string_view data);

// Opens `path` (relative to `dir_fd`, or absolute) for reading as a file that someone else,
// an agent, may have replaced: O_NOFOLLOW (a symlink is refused, so a planted link cannot
// redirect the read), O_NONBLOCK (a FIFO cannot block the open, or the single-threaded runner
// with it), O_NOCTTY; then fstat: only a regular file of at most `max_bytes` is accepted (a
// FIFO, device, socket or directory is an Error naming it). The fd keeps O_NONBLOCK, which
// changes nothing for a regular file.
Result<Fd> open_regular_at(int dir_fd, const std::string& path, size_t max_bytes);

// Reads `path` whole, opened as open_regular_at does.
Result<std::string> read_file_at(int dir_fd, const std::string& path, size_t max_bytes);

// Reads everything from an open fd, up to `max_bytes` (an error beyond).
Result<std::string> read_fd(int fd, size_t max_bytes);

// Removes `name` (relative to `parent_fd`) and, if it is a directory, everything beneath it,
// never following a symlink: each directory is opened O_NOFOLLOW | O_DIRECTORY from its
// parent's fd, so one swapped for a link while the walk goes on is unlinked, never entered
// (std::filesystem::remove_all in GCC 12 resolves paths again: PR104161). At most `max_depth`
// levels (an agent's tree can be deeper than a stack). Returns 0 (also when `name` is gone) or
// the first errno.
int remove_tree_at(int parent_fd, const char* name, int max_depth = 128);

// Asks for a pipe of at least `capacity` bytes (F_SETPIPE_SZ; a pipe already that large is
// left alone). Returns 0 or the errno: EPERM above fs.pipe-max-size unprivileged, EBUSY when
// the pipe holds more than the new size, EBADF on something that is not a pipe.
int grow_pipe(int fd, size_t capacity);

} // namespace fleet
