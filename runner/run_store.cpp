#include "runner/run_store.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <limits>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner/run_id.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

constexpr size_t k_max_status_bytes = 16 << 20;
constexpr int k_id_attempts = 64;

} // namespace

RunStore::RunStore(std::string runs_dir) : m_path(std::move(runs_dir)) {}

Status RunStore::ensure_exists() const {
    if (m_path.empty() || m_path[0] != '/') {
        return input_error("runs directory '" + m_path + "' is not an absolute path");
    }
    // Create each missing component in turn; an existing one is left as it is.
    size_t pos = 1;
    while (pos <= m_path.size()) {
        size_t slash = m_path.find('/', pos);
        if (slash == std::string::npos) {
            slash = m_path.size();
        }
        const std::string prefix = m_path.substr(0, slash);
        if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
            return system_error("cannot create runs directory " + prefix, errno);
        }
        pos = slash + 1;
    }
    struct stat info {};
    if (::stat(m_path.c_str(), &info) != 0) {
        return system_error("runs directory " + m_path, errno);
    }
    if (!S_ISDIR(info.st_mode)) {
        return Error{ErrorKind::system, "runs directory " + m_path + " is not a directory"};
    }
    if (info.st_uid != geteuid()) {
        return Error{ErrorKind::system, "runs directory " + m_path + " is owned by uid " +
                                            std::to_string(info.st_uid) + ", not by uid " +
                                            std::to_string(geteuid()) + " that runs dispatch"};
    }
    return Ok{};
}

Result<RunDir> RunStore::create_run(WallTime now) const {
    const Fd runs(::open(m_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!runs.valid()) {
        return system_error("open runs directory " + m_path, errno);
    }
    for (int attempt = 0; attempt < k_id_attempts; ++attempt) {
        Result<std::string> id = make_run_id(now);
        if (!id) {
            return id.error();
        }
        if (::mkdirat(runs.get(), id->c_str(), 0700) != 0) {
            if (errno == EEXIST) {
                continue;
            }
            return system_error("create run directory in " + m_path, errno);
        }
        Fd dir(::openat(runs.get(), id->c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!dir.valid()) {
            return system_error("open run directory " + *id, errno);
        }
        return RunDir{*id, m_path + "/" + *id, std::move(dir)};
    }
    return Error{ErrorKind::system, "no free run id after " + std::to_string(k_id_attempts) +
                                        " attempts in " + m_path};
}

Result<std::vector<std::string>> RunStore::list_ids() const {
    DIR* dir = ::opendir(m_path.c_str());
    if (dir == nullptr) {
        if (errno == ENOENT) {
            return std::vector<std::string>{};
        }
        return system_error("open runs directory " + m_path, errno);
    }
    std::vector<std::string> ids;
    while (const dirent* entry = ::readdir(dir)) {
        if (is_valid_run_id(entry->d_name)) {
            ids.emplace_back(entry->d_name);
        }
    }
    ::closedir(dir);
    std::sort(ids.begin(), ids.end(), std::greater<>());
    return ids;
}

Result<RunDir> RunStore::open_run(const std::string& id) const {
    if (!is_valid_run_id(id)) {
        return input_error("'" + id + "' is not a run id (like 20260109-190805-dztnfw)");
    }
    const std::string path = m_path + "/" + id;
    Fd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) {
        if (errno == ENOENT) {
            return input_error("no run " + id + " in " + m_path);
        }
        return system_error("open run " + path, errno);
    }
    return RunDir{id, path, std::move(dir)};
}

Result<RunStatus> RunStore::read_status(const std::string& id) const {
    Result<RunDir> run = open_run(id);
    if (!run) {
        return run.error();
    }
    Result<std::string> text = read_file_at(run->dir.get(), "status.json", k_max_status_bytes);
    RunStatus status;
    if (text) {
        Result<RunStatus> parsed = run_status_from_json(*text);
        if (!parsed) {
            return Error{ErrorKind::system, "run " + id + ": " + parsed.error().message};
        }
        status = std::move(*parsed);
        status.run_id = id; // the directory's name, whatever the file claims
    } else {
        // The runner creates the directory, takes the lock, then writes status.json: a run
        // caught in between has none yet.
        status.run_id = id;
    }
    if (status.state == RunState::running && !run_lock_is_held(run->dir.get())) {
        status.state = RunState::lost;
    }
    return status;
}

Result<CompactStatus> RunStore::read_status_json(const std::string& id) const {
    Result<RunDir> run = open_run(id);
    if (!run) {
        return run.error();
    }
    Result<std::string> text = read_file_at(run->dir.get(), "status.json", k_max_status_bytes);
    if (!text) {
        // No status.json yet: the same answer read_status() gives, as JSON.
        Result<RunStatus> status = read_status(id);
        if (!status) {
            return status.error();
        }
        return CompactStatus{to_json(*status, -1), status->started_at};
    }
    // Only a run that says "running" needs the lock probed.
    const bool alive =
        text->find("\"running\"") == std::string::npos || run_lock_is_held(run->dir.get());
    Result<CompactStatus> compact = compact_status_json(*text, id, alive);
    if (!compact) {
        return Error{ErrorKind::system, "run " + id + ": " + compact.error().message};
    }
    return compact;
}

Result<Fd> acquire_run_lock(int dir_fd) {
    Fd lock(::openat(dir_fd, "lock", O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!lock.valid()) {
        return system_error("create run lock", errno);
    }
    if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
        return system_error("lock run", errno);
    }
    return lock;
}

bool run_lock_is_held(int dir_fd) {
    const Result<Fd> lock = open_regular_at(dir_fd, "lock", std::numeric_limits<size_t>::max());
    if (!lock) {
        return false;
    }
    if (::flock(lock->get(), LOCK_SH | LOCK_NB) != 0) {
        return errno == EWOULDBLOCK;
    }
    ::flock(lock->get(), LOCK_UN);
    return false;
}

} // namespace fleet
