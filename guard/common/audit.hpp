// The audit trail of fleet-helper: one JSON line per request, allowed or refused, to syslog
// (facility authpriv, where journald adds trusted _UID/_PID fields) and to a root-owned 0600
// file no caller can write. Lines are ASCII JSON (json_line.hpp), so no text a caller sends
// can end a line or forge another.
//
//   mkdir(dir, 0700) if missing (root, Access::root_only only)
//   open(dir, O_DIRECTORY|O_NOFOLLOW); check_trusted_directory (trusted_file.hpp): the log's
//   own directory root's and not group/other-writable, every directory above it root's and
//   not writable by others (group-writable is fine: Ubuntu's /var/log is root:syslog 0775)
//   openat(dir, name, O_WRONLY|O_APPEND|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC[|O_CREAT], 0600):
//   created only by root for Access::root_only; fleet-diag appends to what setup-diag made
//   fstat: regular, owned by root, no group/other access (group write allowed for
//   Access::group_write); else refused (nothing is written)
//   write(line + "\n") in one call: O_APPEND makes concurrent helpers' lines whole
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "sys/fd.hpp"
#include "sys/result.hpp"

namespace fleet {

class AuditLog {
public:
    // `group_write`: the file may also be writable (never readable) by its group, for a program
    // that does not run as root (fleet-diag runs as the diag user; see docs/fleet-diag.md).
    enum class Access { root_only, group_write };

    static Result<AuditLog> open(const std::string& path, Access access = Access::root_only);

    Status append(const std::string& line) const;

    // flock(LOCK_EX) on the log file, retried every 100 ms up to `timeout`; held until the
    // process ends. fleet-helper takes it around a package action's simulation and run, so no
    // other helper's transaction changes what apt would do in between.
    Status lock_exclusive(std::chrono::milliseconds timeout) const;

private:
    explicit AuditLog(Fd fd, std::string path) : m_fd(std::move(fd)), m_path(std::move(path)) {}

    Fd m_fd;
    std::string m_path;
};

// Both sinks of a guard program's records: syslog as <ident>[pid] (authpriv.info when allowed,
// else authpriv.notice; best effort: a host without a syslog socket loses only this copy) and
// the file, when it opened (when it did not, every request is refused for that, and syslog
// alone has the record).
class AuditSinks {
public:
    AuditSinks(const char* ident, Result<AuditLog> file)
        : m_ident(ident), m_file(std::move(file)) {}

    // One record, as one line of ASCII JSON (json_line.hpp); the file sink's result.
    Status write(const nlohmann::json& line, bool allowed) const;

    const Result<AuditLog>& file() const { return m_file; }

private:
    const char* m_ident;
    Result<AuditLog> m_file;
};

} // namespace fleet
