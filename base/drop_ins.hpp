// The drop-ins of a TOML file: the files `*.toml` of the directory beside it named like it
// without ".toml" and with ".d" (/etc/fleet-dispatch/config.toml: config.d/), the way
// sshd_config.d/ and systemd's *.conf.d/ work, so that set-up tools never rewrite the file a
// package ships. Only the names are listed here; each file is then read by its caller with the
// trust rules of the file itself (base/trusted_file.hpp).
//
//   opendir(dir)      ENOENT: no drop-ins, not an error; any other failure is one
//   readdir           names [A-Za-z0-9][A-Za-z0-9_.-]*.toml only: dpkg's *.dpkg-old and
//                     *.dpkg-dist, an editor's *.toml~ and dotfiles are never read
//   sort              byte order of the names, the order they are merged in
// More than k_max_drop_ins names is an error (a directory filled by mistake is not read).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sys/result.hpp"

namespace fleet {

constexpr size_t k_max_drop_ins = 64;

// "config.toml" -> "config.d" (a path without ".toml" gets ".d" appended).
std::string drop_in_dir(const std::string& path);

// Whether `name` is a drop-in's name.
bool is_drop_in_name(const std::string& name);

// The drop-ins of `path`, as paths, sorted. `subject` starts an error ("config drop-ins DIR: ...").
Result<std::vector<std::string>> list_drop_ins(const std::string& path, const std::string& subject);

} // namespace fleet
