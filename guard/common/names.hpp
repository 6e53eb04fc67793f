// The names the guard programs accept as operands. Each is a whitelist of characters and
// shapes: nothing that a shell, a glob, a path walk or an option parser could read as more.
#pragma once

#include <string_view>

namespace fleet {

// A systemd unit name as systemctl takes it: [A-Za-z0-9:_.@\-], not starting with '-' or '.',
// no "..", not all digits (a PID to systemctl), at most 255 bytes. No globs, paths, PIDs or
// options can pass.
bool is_valid_unit_name(std::string_view name);

// A Debian package name (Policy §5.6.1): [a-z0-9][a-z0-9+.-]+, no "..".
bool is_valid_package_name(std::string_view name);

// A docker/podman container name: [A-Za-z0-9][A-Za-z0-9_.-]*, at most 128 bytes.
bool is_valid_container_name(std::string_view name);

} // namespace fleet
