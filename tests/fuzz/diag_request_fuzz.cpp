// libFuzzer target for fleet-diag's tokeniser and request parser (make fuzz). The input is one
// request string, as sshd hands it over. Invariants beyond "no crash, no sanitizer report":
//   - every word the tokeniser accepts passes check_word (the two rule sets agree);
//   - a parsed request renders as one line of ASCII JSON that parses back;
//   - a parsed file request names a plain absolute path (no '.', '..', '//').
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/untrusted_text.hpp"
#include "guard/common/json_line.hpp"
#include "guard/diag/request.hpp"
#include "guard/diag/tokenizer.hpp"

namespace {

void check(bool condition) {
    if (!condition) {
        std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    const fleet::Result<std::vector<std::string>> words = fleet::tokenize(input);
    if (!words) {
        return 0;
    }
    for (const std::string& word : *words) {
        check(fleet::check_word(word).ok());
    }
    const fleet::Result<fleet::DiagRequest> request = fleet::parse_diag_request(*words);
    if (!request) {
        return 0;
    }
    const std::string line = fleet::json_line(fleet::diag_request_json(*request));
    check(line.find('\n') == std::string::npos);
    check(!nlohmann::json::parse(line, nullptr, false).is_discarded());
    if (fleet::is_file_command(request->command)) {
        const std::string& path = request->path;
        check(!path.empty() && path[0] == '/');
        check(path.find("//") == std::string::npos && path.find("/./") == std::string::npos &&
              path.find("/../") == std::string::npos && !path.ends_with("/..") &&
              !path.ends_with("/."));
    }
    return 0;
}
