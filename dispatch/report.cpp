#include "dispatch/report.hpp"

#include <cstdio>

#include "base/untrusted_text.hpp"
#include "runner/status.hpp"

namespace fleet {

void warn(const std::string& message) {
    std::fprintf(stderr, "dispatch: %s\n", escape_untrusted(message, LineBreaks::escaped).c_str());
}

int fail(int code, const std::string& message) {
    warn(message);
    return code;
}

int exit_code_for(const Error& error) {
    return error.kind == ErrorKind::invalid_input ? k_exit_usage : k_exit_setup;
}

int fail(const Error& error) {
    return fail(exit_code_for(error), error.message);
}

} // namespace fleet
