#include "base/drop_ins.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <string_view>

namespace fleet {

namespace {

constexpr std::string_view k_toml_suffix = ".toml";

bool ends_with_toml(std::string_view name) {
    return name.size() > k_toml_suffix.size() &&
           name.substr(name.size() - k_toml_suffix.size()) == k_toml_suffix;
}

} // namespace

std::string drop_in_dir(const std::string& path) {
    std::string dir = path;
    if (ends_with_toml(dir)) {
        dir.resize(dir.size() - k_toml_suffix.size());
    }
    return dir + ".d";
}

bool is_drop_in_name(const std::string& name) {
    if (!ends_with_toml(name) || !std::isalnum(static_cast<unsigned char>(name[0]))) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    });
}

Result<std::vector<std::string>> list_drop_ins(const std::string& path,
                                               const std::string& subject) {
    const std::string dir = drop_in_dir(path);
    const std::string where = subject + " drop-ins " + dir + ": ";
    std::vector<std::string> names;
    DIR* stream = ::opendir(dir.c_str());
    if (stream == nullptr) {
        if (errno == ENOENT) {
            return names;
        }
        return input_error(where + std::strerror(errno));
    }
    errno = 0;
    while (const dirent* entry = ::readdir(stream)) {
        if (is_drop_in_name(entry->d_name)) {
            names.emplace_back(entry->d_name);
        }
    }
    const int error = errno;
    ::closedir(stream);
    if (error != 0) {
        return input_error(where + std::strerror(error));
    }
    if (names.size() > k_max_drop_ins) {
        return input_error(where + "more than " + std::to_string(k_max_drop_ins) + " files");
    }
    std::sort(names.begin(), names.end());
    for (std::string& name : names) {
        name = dir + "/" + name;
    }
    return names;
}

} // namespace fleet
