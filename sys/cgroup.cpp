#include "sys/cgroup.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

constexpr size_t k_max_cgroup_file = 1 << 16;

bool is_fs(const std::string& path, long magic) {
    struct statfs info {};
    return ::statfs(path.c_str(), &info) == 0 && static_cast<long>(info.f_type) == magic;
}

std::vector<std::string> words(std::string_view text) {
    std::vector<std::string> out;
    size_t at = 0;
    while (at < text.size()) {
        const size_t end = text.find_first_of(" \n", at);
        const size_t stop = end == std::string_view::npos ? text.size() : end;
        if (stop > at) {
            out.emplace_back(text.substr(at, stop - at));
        }
        at = stop + 1;
    }
    return out;
}

// A line of /proc/self/cgroup as a hierarchy, when it is mounted where it should be; nullopt
// for named hierarchies and ones not mounted under `root`.
std::optional<CgroupHierarchy> hierarchy_of(const CgroupMembership& line, const std::string& root,
                                            bool unified_root) {
    CgroupHierarchy hierarchy;
    hierarchy.controllers = line.controllers;
    hierarchy.own = line.path;
    if (hierarchy.controllers.empty()) {
        hierarchy.v2 = true;
        hierarchy.mount = unified_root ? root : root + "/unified";
        if (!is_fs(hierarchy.mount, CGROUP2_SUPER_MAGIC)) {
            return std::nullopt;
        }
        return hierarchy;
    }
    if (unified_root || hierarchy.controllers.rfind("name=", 0) == 0) {
        return std::nullopt;
    }
    hierarchy.mount = root + "/" + hierarchy.controllers;
    if (!is_fs(hierarchy.mount, CGROUP_SUPER_MAGIC)) {
        return std::nullopt;
    }
    return hierarchy;
}

} // namespace

const char* to_string(CgroupMode mode) {
    switch (mode) {
    case CgroupMode::legacy:
        return "v1";
    case CgroupMode::hybrid:
        return "hybrid";
    case CgroupMode::unified:
        return "v2";
    case CgroupMode::none:
        break;
    }
    return "none";
}

std::string CgroupHierarchy::path() const {
    return own == "/" ? mount : mount + own;
}

bool CgroupHierarchy::has(std::string_view controller) const {
    size_t at = 0;
    while (at <= controllers.size()) {
        const size_t end = controllers.find(',', at);
        const size_t stop = end == std::string::npos ? controllers.size() : end;
        if (std::string_view(controllers).substr(at, stop - at) == controller) {
            return true;
        }
        at = stop + 1;
    }
    return false;
}

const CgroupHierarchy* CgroupLayout::v2() const {
    for (const CgroupHierarchy& hierarchy : hierarchies) {
        if (hierarchy.v2) {
            return &hierarchy;
        }
    }
    return nullptr;
}

const CgroupHierarchy* CgroupLayout::v1(std::string_view controller) const {
    for (const CgroupHierarchy& hierarchy : hierarchies) {
        if (!hierarchy.v2 && hierarchy.has(controller)) {
            return &hierarchy;
        }
    }
    return nullptr;
}

std::vector<CgroupMembership> cgroup_memberships(std::string_view text) {
    std::vector<CgroupMembership> lines;
    size_t at = 0;
    while (at < text.size()) {
        const size_t end = std::min(text.find('\n', at), text.size());
        const std::string_view line = text.substr(at, end - at);
        at = end + 1;
        const size_t first = line.find(':');
        const size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
        if (second != std::string_view::npos) {
            lines.push_back(
                CgroupMembership{std::string(line.substr(first + 1, second - first - 1)),
                                 std::string(line.substr(second + 1))});
        }
    }
    return lines;
}

Result<CgroupLayout> cgroup_layout(const std::string& root, const std::string& self) {
    CgroupLayout layout;
    const bool unified_root = is_fs(root, CGROUP2_SUPER_MAGIC);
    if (!unified_root && !is_fs(root, TMPFS_MAGIC)) {
        return layout;
    }
    Result<std::string> text = read_file_at(AT_FDCWD, self, k_max_cgroup_file);
    if (!text) {
        return text.error();
    }
    for (const CgroupMembership& line : cgroup_memberships(*text)) {
        if (std::optional<CgroupHierarchy> found = hierarchy_of(line, root, unified_root)) {
            if (found->v2) {
                layout.hierarchies.insert(layout.hierarchies.begin(), *found);
            } else {
                layout.hierarchies.push_back(*found);
            }
        }
    }
    if (const CgroupHierarchy* v2 = layout.v2()) {
        const Fd dir(::open(v2->path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        Result<std::string> controllers = cgroup_read(dir.get(), "cgroup.controllers");
        if (controllers) {
            layout.v2_controllers = words(*controllers);
        }
    }
    const bool v1 = layout.hierarchies.size() > (layout.v2() != nullptr ? 1U : 0U);
    layout.mode = unified_root                   ? CgroupMode::unified
                  : v1 && layout.v2() != nullptr ? CgroupMode::hybrid
                  : v1                           ? CgroupMode::legacy
                  : layout.v2() != nullptr       ? CgroupMode::unified
                                                 : CgroupMode::none;
    return layout;
}

Status cgroup_write(int dir_fd, const std::string& file, std::string_view value) {
    const Fd fd(::openat(dir_fd, file.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
        return system_error("open " + file, errno);
    }
    const ssize_t written = ::write(fd.get(), value.data(), value.size());
    if (written < 0) {
        return system_error("write " + std::string(value) + " to " + file, errno);
    }
    return Ok{};
}

Result<std::string> cgroup_read(int dir_fd, const std::string& file) {
    return read_file_at(dir_fd, file, k_max_cgroup_file);
}

std::optional<uint64_t> cgroup_key(std::string_view text, std::string_view key) {
    size_t at = 0;
    while (at < text.size()) {
        const size_t end = text.find('\n', at);
        const std::string_view line =
            text.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
        if (line.size() > key.size() && line.substr(0, key.size()) == key &&
            line[key.size()] == ' ') {
            return std::strtoull(std::string(line.substr(key.size() + 1)).c_str(), nullptr, 10);
        }
        if (end == std::string_view::npos) {
            break;
        }
        at = end + 1;
    }
    return std::nullopt;
}

std::vector<pid_t> cgroup_pids(std::string_view text) {
    std::vector<pid_t> pids;
    for (const std::string& word : words(text)) {
        const long pid = std::strtol(word.c_str(), nullptr, 10);
        if (pid > 0) {
            pids.push_back(static_cast<pid_t>(pid));
        }
    }
    return pids;
}

bool cgroup_populated(int dir_fd, bool v2) {
    if (v2) {
        Result<std::string> events = cgroup_read(dir_fd, "cgroup.events");
        return !events || cgroup_key(*events, "populated").value_or(1) != 0;
    }
    Result<std::string> procs = cgroup_read(dir_fd, "cgroup.procs");
    return !procs || !cgroup_pids(*procs).empty();
}

namespace {

// v1 freezer: writes `state` and waits (up to a second) until the cgroup is in it.
int set_freezer(int freezer_fd, const char* state) {
    if (::lseek(freezer_fd, 0, SEEK_SET) < 0 ||
        ::write(freezer_fd, state, std::strlen(state)) < 0) {
        return errno;
    }
    for (int round = 0; round < 100; ++round) {
        char now[32] = {};
        if (::pread(freezer_fd, now, sizeof now - 1, 0) < 0) {
            return errno;
        }
        if (std::strncmp(now, state, std::strlen(state)) == 0) {
            return 0;
        }
        const timespec pause{0, 10'000'000};
        ::nanosleep(&pause, nullptr);
    }
    return EBUSY;
}

} // namespace

int cgroup_signal_each(int dir_fd, int sig) {
    Result<std::string> procs = cgroup_read(dir_fd, "cgroup.procs");
    if (!procs) {
        return EIO;
    }
    for (const pid_t pid : cgroup_pids(*procs)) {
        if (::kill(pid, sig) != 0 && errno != ESRCH) {
            return errno;
        }
    }
    return 0;
}

int cgroup_kill(const CgroupKill& target) {
    if (target.kill_fd >= 0) {
        if (::pwrite(target.kill_fd, "1", 1, 0) < 0) {
            return errno;
        }
        return 0;
    }
    if (target.freezer_fd < 0) {
        return cgroup_signal_each(target.dir_fd, SIGKILL);
    }
    const int frozen = set_freezer(target.freezer_fd, "FROZEN");
    const int killed = cgroup_signal_each(target.dir_fd, SIGKILL);
    const int thawed = set_freezer(target.freezer_fd, "THAWED");
    return frozen != 0 ? frozen : killed != 0 ? killed : thawed;
}

} // namespace fleet
