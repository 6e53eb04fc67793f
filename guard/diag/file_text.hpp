// How fleet-diag's file commands word their answers (files.hpp finds and vets the file; this
// reads and formats it): capped reads, the first or last lines, `ls` and `ls -l` lines, `stat`.
// Every read is capped: nothing here reads more than the policy's max_output into memory, but
// for a file that reports no size (procfs), whose tail is found in at most 64 MiB.
#pragma once

#include <string>
#include <sys/stat.h>

#include "guard/diag/request.hpp"
#include "sys/result.hpp"

namespace fleet {

// head and tail without -n.
inline constexpr unsigned k_default_lines = 10;

// "-rw-r-----" and its kind.
std::string mode_string(mode_t mode);
// "regular file", "directory", "symbolic link", "fifo", "socket", "device".
std::string type_name(mode_t mode);

// Reads up to `cap` bytes from the current offset; `truncated` when more was there.
Result<std::string> read_capped(int fd, size_t cap, bool& truncated);

// The first `lines` lines of `text` (all of it when it has fewer).
std::string first_lines(const std::string& text, unsigned lines);
// The last `lines` lines; a final newline ends the last line, it does not start another.
std::string last_lines(const std::string& text, unsigned lines);

// The last `lines` lines of an open file, reading at most `cap` bytes from its end (or the
// whole of a file that reports no size); `truncated` when the cap cut a line off.
Result<std::string> tail_of(int fd, const struct stat& info, unsigned lines, size_t cap,
                            bool& truncated);

// `stat`'s answer; owner and group by name when they have one, times in UTC.
std::string stat_text(const std::string& path, const struct stat& info);
// One `ls -l` line: mode, links, owner, group, size, mtime (UTC), name.
std::string long_entry(const std::string& name, const struct stat& info);
// The directory open as `fd`, sorted, dot files only with -a, long lines with -l; at most
// `cap` bytes (`truncated` then) and 100000 names.
Result<std::string> list_directory(int fd, const DiagRequest& request, size_t cap, bool& truncated);

} // namespace fleet
