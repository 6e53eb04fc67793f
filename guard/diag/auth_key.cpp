#include "guard/diag/auth_key.hpp"

#include <algorithm>
#include <cstdlib>
#include <fcntl.h>
#include <optional>

#include "base/base64.hpp"
#include "base/sha256.hpp"
#include "sys/io.hpp"

namespace fleet {

std::string key_fingerprint_of(std::string_view auth_info) {
    constexpr std::string_view k_method = "publickey ";
    size_t start = 0;
    while (start < auth_info.size()) {
        const size_t end = std::min(auth_info.find('\n', start), auth_info.size());
        const std::string_view line = auth_info.substr(start, end - start);
        start = end + 1;
        if (line.substr(0, k_method.size()) != k_method) {
            continue;
        }
        const size_t type_end = line.find(' ', k_method.size());
        if (type_end == std::string_view::npos) {
            return "";
        }
        const std::string_view blob_text =
            line.substr(type_end + 1, line.find(' ', type_end + 1) - type_end - 1);
        const std::optional<std::string> blob = base64_decode(blob_text);
        return blob && !blob->empty() ? "SHA256:" + base64_unpadded(sha256_digest(*blob)) : "";
    }
    return "";
}

std::string session_key_fingerprint() {
    const char* path = std::getenv("SSH_USER_AUTH");
    if (path == nullptr) {
        return "";
    }
    const Result<std::string> text = read_file_at(AT_FDCWD, path, size_t{64} * 1024);
    return text ? key_fingerprint_of(*text) : "";
}

} // namespace fleet
