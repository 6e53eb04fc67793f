// The audit trail of fleet-helper: one JSON line per request, allowed or refused, to syslog
// (facility authpriv, where journald adds trusted _UID/_PID fields) and to a root-owned 0600
// file no caller can write. Lines are ASCII JSON (json_line.hpp), so no text a caller sends
// can end a line or forge another.
//
//   mkdir(dir, 0700) if missing            its parent must be root-owned, not group/other-writable
//   open(dir, O_DIRECTORY|O_NOFOLLOW); fstat: owned by root, not group/other-writable
//   openat(dir, name, O_WRONLY|O_APPEND|O_CREAT|O_NOFOLLOW|O_CLOEXEC, 0600)
//   fstat: regular, owned by root, no group/other access (group write allowed for
//   Access::group_write); else refused (nothing is written)
//   write(line + "\n") in one call: O_APPEND makes concurrent helpers' lines whole
#pragma once

#include <string>

#include "fd.hpp"
#include "result.hpp"

namespace fleet {

class AuditLog {
public:
    // `group_write`: the file may also be writable (never readable) by its group, for a program
    // that does not run as root (fleet-diag runs as the diag user; see docs/fleet-diag.md).
    enum class Access { root_only, group_write };

    static Result<AuditLog> open(const std::string& path, Access access = Access::root_only);

    Status append(const std::string& line) const;

private:
    explicit AuditLog(Fd fd, std::string path) : m_fd(std::move(fd)), m_path(std::move(path)) {}

    Fd m_fd;
    std::string m_path;
};

// Sends `line` to syslog as <ident>[pid], authpriv.info when `allowed`, else authpriv.notice.
// Best effort: a host without a syslog socket loses only this copy.
void syslog_audit(const char* ident, const std::string& line, bool allowed);

} // namespace fleet
