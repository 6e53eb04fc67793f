#include "support/files.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace fleet::test {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& text, mode_t mode) {
    std::ofstream(path, std::ios::binary) << text;
    chmod(path.c_str(), mode);
}

bool PlacedPaths::directory(const std::string& path) {
    if (std::filesystem::exists(path)) {
        return false;
    }
    std::filesystem::create_directory(path);
    m_made.push_back(path);
    return true;
}

bool PlacedPaths::file(const std::string& path, const std::string& text, mode_t mode) {
    if (std::filesystem::exists(path)) {
        return false;
    }
    write_file(path, text, mode);
    m_made.push_back(path);
    return true;
}

void PlacedPaths::put_back() {
    for (auto made = m_made.rbegin(); made != m_made.rend(); ++made) {
        std::filesystem::remove(*made);
    }
    m_made.clear();
}

std::string make_root_scratch(const std::string& name) {
    std::string pattern = "/var/lib/fleet-" + name + ".XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr || ::chmod(pattern.c_str(), 0755) != 0) {
        throw std::runtime_error("scratch directory " + pattern + ": " + std::strerror(errno));
    }
    return pattern;
}

void copy_executables(const std::string& from, const std::string& to) {
    std::filesystem::create_directories(to);
    for (const auto& entry : std::filesystem::directory_iterator(from)) {
        const std::string target = to + "/" + entry.path().filename().string();
        std::filesystem::copy_file(entry.path(), target);
        std::filesystem::permissions(target, std::filesystem::perms(0755));
    }
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

bool alive(pid_t pid) {
    const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    return !stat.empty() && stat.find(") Z ") == std::string::npos;
}

bool gone_within(pid_t pid, int seconds) {
    for (int i = 0; i < seconds * 50 && alive(pid); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return !alive(pid);
}

std::vector<pid_t> survivors(const std::string& run_id) {
    std::vector<pid_t> pids;
    const std::string marker = "FLEET_DISPATCH_RUN_ID=" + run_id;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const std::string environ = read_file(entry.path().string() + "/environ");
        const std::string stat = read_file(entry.path().string() + "/stat");
        const bool zombie = stat.find(") Z ") != std::string::npos;
        if (!zombie && environ.find(marker) != std::string::npos) {
            pids.push_back(static_cast<pid_t>(std::stol(name)));
        }
    }
    return pids;
}

std::string run_id_of(const std::string& out) {
    const std::string prefix = "run-id: ";
    if (out.rfind(prefix, 0) != 0) {
        return "";
    }
    return out.substr(prefix.size(), out.find('\n') - prefix.size());
}

} // namespace fleet::test
