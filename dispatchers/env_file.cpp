#include "env_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

#include "environment.hpp"
#include "fd.hpp"
#include "io.hpp"

namespace fleet {

namespace {

constexpr size_t k_max_env_file = 1 << 20;

} // namespace

Result<EnvPairs> parse_env_file(std::string_view text, const std::string& source) {
    EnvPairs pairs;
    size_t start = 0;
    int number = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        ++number;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        const size_t first = line.find_first_not_of(" \t");
        if (first == std::string_view::npos || line[first] == '#') {
            continue;
        }
        line.remove_prefix(first);
        if (line.rfind("export ", 0) == 0) {
            line.remove_prefix(7);
        }
        const size_t equals = line.find('=');
        const std::string name(line.substr(0, equals));
        if (equals == std::string_view::npos || !is_valid_env_name(name)) {
            return input_error("env_file " + source + ":" + std::to_string(number) +
                               ": not a KEY=VALUE line");
        }
        std::string value(line.substr(equals + 1));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front()) {
            value = value.substr(1, value.size() - 2);
        }
        pairs.emplace_back(name, std::move(value));
    }
    return pairs;
}

Result<EnvPairs> read_env_file(const std::string& path, bool as_root) {
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) {
        return input_error("env_file " + path + ": " + std::strerror(errno));
    }
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) {
        return system_error("env_file " + path, errno);
    }
    if (!S_ISREG(info.st_mode)) {
        return input_error("env_file " + path + " is not a regular file");
    }
    if (as_root && (info.st_uid != 0 || (info.st_mode & 007) != 0)) {
        return input_error("env_file " + path +
                           " must be owned by root and not readable by "
                           "others (chown root: and chmod o-rwx it)");
    }
    Result<std::string> text = read_fd(fd.get(), k_max_env_file);
    if (!text) {
        return input_error("env_file " + path + ": " + text.error().message);
    }
    return parse_env_file(*text, path);
}

} // namespace fleet
