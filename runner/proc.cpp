#include "runner/proc.hpp"

#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

// Splits /proc/PID/stat after the command name, which may itself contain spaces or ')'.
std::vector<std::string> stat_fields_after_comm(const std::string& text) {
    std::vector<std::string> fields;
    const size_t close = text.rfind(')');
    if (close == std::string::npos) {
        return fields;
    }
    std::istringstream stream(text.substr(close + 1));
    for (std::string field; stream >> field;) {
        fields.push_back(field);
    }
    return fields;
}

std::optional<std::string> read_proc(const std::string& path) {
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        return std::nullopt;
    }
    Result<std::string> text = read_fd(fd.get(), 1 << 20);
    if (!text) {
        return std::nullopt;
    }
    return *text;
}

} // namespace

std::optional<unsigned long long> process_start_time(pid_t pid) {
    const auto text = read_proc("/proc/" + std::to_string(pid) + "/stat");
    if (!text) {
        return std::nullopt;
    }
    // Fields after "pid (comm)" start at field 3 (state); starttime is field 22.
    const std::vector<std::string> fields = stat_fields_after_comm(*text);
    if (fields.size() < 20) {
        return std::nullopt;
    }
    return std::strtoull(fields[19].c_str(), nullptr, 10);
}

bool process_running(pid_t pid, unsigned long long start_time) {
    const auto text = read_proc("/proc/" + std::to_string(pid) + "/stat");
    if (!text) {
        return false;
    }
    const std::vector<std::string> fields = stat_fields_after_comm(*text);
    return fields.size() >= 20 && fields[0] != "Z" && fields[0] != "X" &&
           std::strtoull(fields[19].c_str(), nullptr, 10) == start_time;
}

std::vector<pid_t> child_processes() {
    std::vector<pid_t> children;
    bool have_children_files = false;
    if (DIR* tasks = opendir("/proc/self/task")) {
        while (const dirent* task = readdir(tasks)) {
            if (task->d_name[0] == '.') {
                continue;
            }
            const auto text =
                read_proc(std::string("/proc/self/task/") + task->d_name + "/children");
            if (!text) {
                continue;
            }
            have_children_files = true;
            std::istringstream stream(*text);
            for (pid_t pid = 0; stream >> pid;) {
                children.push_back(pid);
            }
        }
        closedir(tasks);
    }
    if (have_children_files) {
        return children;
    }
    const pid_t self = getpid();
    if (DIR* proc = opendir("/proc")) {
        while (const dirent* entry = readdir(proc)) {
            char* end = nullptr;
            const long pid = std::strtol(entry->d_name, &end, 10);
            if (*end != '\0' || pid <= 0) {
                continue;
            }
            const auto text = read_proc(std::string("/proc/") + entry->d_name + "/stat");
            const std::vector<std::string> fields =
                text ? stat_fields_after_comm(*text) : std::vector<std::string>{};
            if (fields.size() > 1 && std::strtol(fields[1].c_str(), nullptr, 10) == self) {
                children.push_back(static_cast<pid_t>(pid));
            }
        }
        closedir(proc);
    }
    return children;
}

std::optional<std::string> environ_value(pid_t pid, const std::string& name) {
    const auto text = read_proc("/proc/" + std::to_string(pid) + "/environ");
    if (!text) {
        return std::nullopt;
    }
    const std::string prefix = name + "=";
    size_t start = 0;
    while (start < text->size()) {
        size_t end = text->find('\0', start);
        if (end == std::string::npos) {
            end = text->size();
        }
        if (text->compare(start, prefix.size(), prefix) == 0) {
            return text->substr(start + prefix.size(), end - start - prefix.size());
        }
        start = end + 1;
    }
    return std::nullopt;
}

} // namespace fleet
