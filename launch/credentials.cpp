#include "launch/credentials.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fleet {

namespace {

// The fields of /proc/self/status that verification reads; parsed from the kernel's text.
struct ProcStatus {
    bool has_caps = false;
    unsigned long long cap_prm = ~0ULL, cap_eff = ~0ULL, cap_amb = ~0ULL;
    int no_new_privs = -1;
};

Result<ProcStatus> read_proc_status() {
    // open/read rather than stdio: no buffering state to think about, and O_CLOEXEC.
    const int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return system_error("open /proc/self/status", errno);
    }
    std::string text;
    char buffer[4096];
    for (;;) {
        const ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            const int err = errno;
            close(fd);
            return system_error("read /proc/self/status", err);
        }
        if (n == 0) {
            break;
        }
        text.append(buffer, static_cast<size_t>(n));
    }
    close(fd);

    ProcStatus status;
    int caps_seen = 0;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) {
            end = text.size();
        }
        const std::string line = text.substr(start, end - start);
        start = end + 1;
        const size_t colon = line.find(':');
        if (colon == std::string::npos) {
            continue;
        }
        const std::string key = line.substr(0, colon);
        const char* value = line.c_str() + colon + 1;
        char* parse_end = nullptr;
        errno = 0;
        if (key == "CapPrm" || key == "CapEff" || key == "CapAmb") {
            const unsigned long long caps = std::strtoull(value, &parse_end, 16);
            if (errno != 0 || parse_end == value) {
                return Error{ErrorKind::system, "/proc/self/status: cannot parse " + key};
            }
            (key == "CapPrm"   ? status.cap_prm
             : key == "CapEff" ? status.cap_eff
                               : status.cap_amb) = caps;
            ++caps_seen;
        } else if (key == "NoNewPrivs") {
            const long nnp = std::strtol(value, &parse_end, 10);
            if (errno != 0 || parse_end == value) {
                return Error{ErrorKind::system, "/proc/self/status: cannot parse NoNewPrivs"};
            }
            status.no_new_privs = static_cast<int>(nnp);
        }
    }
    status.has_caps = caps_seen == 3;
    return status;
}

std::string id_triple(unsigned a, unsigned b, unsigned c) {
    return std::to_string(a) + "," + std::to_string(b) + "," + std::to_string(c);
}

Error verify_failure(const std::string& message) {
    return Error{ErrorKind::system, "verification failed: " + message};
}

} // namespace

Status set_no_new_privs() {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0UL, 0UL, 0UL) != 0) {
        return system_error("prctl(PR_SET_NO_NEW_PRIVS)", errno);
    }
    return Ok{};
}

Status drop_privileges(const Identity& identity, NoNewPrivs no_new_privs) {
    if (no_new_privs == NoNewPrivs::yes) {
        if (Status status = set_no_new_privs(); !status) {
            return status;
        }
    }
    if (setgroups(identity.groups.size(), identity.groups.data()) != 0) {
        return system_error("setgroups", errno);
    }
    if (setresgid(identity.gid, identity.gid, identity.gid) != 0) {
        return system_error("setresgid(" + std::to_string(identity.gid) + ")", errno);
    }
    if (setresuid(identity.uid, identity.uid, identity.uid) != 0) {
        return system_error("setresuid(" + std::to_string(identity.uid) + ")", errno);
    }
    return Ok{};
}

Status verify_credentials(const Identity& identity, NoNewPrivs no_new_privs) {
    uid_t ruid = 0, euid = 0, suid = 0;
    gid_t rgid = 0, egid = 0, sgid = 0;
    if (getresuid(&ruid, &euid, &suid) != 0) {
        return system_error("getresuid", errno);
    }
    if (getresgid(&rgid, &egid, &sgid) != 0) {
        return system_error("getresgid", errno);
    }
    if (ruid != identity.uid || euid != identity.uid || suid != identity.uid) {
        return verify_failure("uids are " + id_triple(ruid, euid, suid) + ", want " +
                              id_triple(identity.uid, identity.uid, identity.uid));
    }
    if (rgid != identity.gid || egid != identity.gid || sgid != identity.gid) {
        return verify_failure("gids are " + id_triple(rgid, egid, sgid) + ", want " +
                              id_triple(identity.gid, identity.gid, identity.gid));
    }

    const int count = getgroups(0, nullptr);
    if (count < 0) {
        return system_error("getgroups", errno);
    }
    std::vector<gid_t> groups(static_cast<size_t>(count));
    if (getgroups(count, groups.data()) != count) {
        return system_error("getgroups", errno);
    }
    std::sort(groups.begin(), groups.end());
    groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
    if (groups != identity.groups) {
        return verify_failure("supplementary groups differ from the intended set");
    }

    // Regaining root must be impossible. If either call succeeds we are root again: say so
    // and let the caller exit; nothing is executed.
    if (setuid(0) == 0) {
        return verify_failure("setuid(0) succeeded");
    }
    if (errno != EPERM) {
        return verify_failure(std::string("setuid(0) failed with ") + std::strerror(errno) +
                              ", want EPERM");
    }
    if (setgid(0) == 0) {
        return verify_failure("setgid(0) succeeded");
    }
    if (errno != EPERM) {
        return verify_failure(std::string("setgid(0) failed with ") + std::strerror(errno) +
                              ", want EPERM");
    }

    const Result<ProcStatus> status = read_proc_status();
    if (!status) {
        return status.error();
    }
    if (!status->has_caps) {
        return verify_failure("/proc/self/status lacks CapPrm, CapEff or CapAmb");
    }
    if (status->cap_prm != 0 || status->cap_eff != 0 || status->cap_amb != 0) {
        return verify_failure("capabilities remain (CapPrm, CapEff or CapAmb is not 0)");
    }
    if (no_new_privs == NoNewPrivs::yes && status->no_new_privs != 1) {
        return verify_failure("NoNewPrivs is not set");
    }
    return Ok{};
}

Status refuse_setid_install() {
    if (getuid() != geteuid() || getgid() != getegid()) {
        return Error{ErrorKind::system, "refusing to run setuid or setgid (real and effective "
                                        "ids differ); install without the setuid/setgid bit"};
    }
    struct stat self {};
    if (stat("/proc/self/exe", &self) != 0) {
        return system_error("stat /proc/self/exe", errno);
    }
    if ((self.st_mode & (S_ISUID | S_ISGID)) != 0) {
        return Error{ErrorKind::system, "refusing to run: the executable carries the setuid or "
                                        "setgid bit; remove it (chmod u-s,g-s)"};
    }
    return Ok{};
}

} // namespace fleet
