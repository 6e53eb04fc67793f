#include "files.hpp"

#include <fstream>
#include <iterator>
#include <sys/stat.h>

namespace fleet::test {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& text, mode_t mode) {
    std::ofstream(path, std::ios::binary) << text;
    chmod(path.c_str(), mode);
}

std::string run_id_of(const std::string& out) {
    const std::string prefix = "run-id: ";
    if (out.rfind(prefix, 0) != 0) {
        return "";
    }
    return out.substr(prefix.size(), out.find('\n') - prefix.size());
}

} // namespace fleet::test
