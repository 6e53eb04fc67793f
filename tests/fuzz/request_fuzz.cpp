// libFuzzer target for fleet-helper's request parser (make fuzz). The input is argv with NUL
// between words. Invariants checked on every input, beyond "no crash, no sanitizer report":
//   - a parsed request renders as one line of ASCII JSON that parses back;
//   - escape_untrusted leaves no byte that could drive a terminal (C0 but \n and \t, DEL, C1).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/untrusted_text.hpp"
#include "guard/common/json_line.hpp"
#include "guard/helper/request.hpp"

namespace {

void check(bool condition) {
    if (!condition) {
        std::abort();
    }
}

bool is_safe_text(const std::string& text) {
    for (size_t i = 0; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        const bool c0 = byte < 0x20 && byte != '\n' && byte != '\t';
        const bool c1 =
            byte == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0xa0;
        if (c0 || byte == 0x7f || c1) {
            return false;
        }
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> args;
    size_t start = 0;
    for (size_t end; (end = input.find('\0', start)) != std::string::npos; start = end + 1) {
        args.push_back(input.substr(start, end - start));
    }
    args.push_back(input.substr(start));
    const fleet::Result<fleet::Request> request = fleet::parse_request(args);
    if (request) {
        const std::string line = fleet::json_line(fleet::request_json(*request));
        check(line.find('\n') == std::string::npos);
        for (const char c : line) {
            check(static_cast<unsigned char>(c) < 0x80);
        }
        check(!nlohmann::json::parse(line, nullptr, false).is_discarded());
    } else {
        check(!request.error().message.empty());
    }
    check(is_safe_text(fleet::escape_untrusted(input)));
    check(nlohmann::json::parse(fleet::json_line(fleet::escape_untrusted(input)), nullptr, false)
              .is_string());
    return 0;
}
