#include "report.hpp"

#include <cstdio>

#include "status.hpp"

namespace fleet {

int fail(int code, const std::string& message) {
    std::fprintf(stderr, "dispatch: %s\n", message.c_str());
    return code;
}

int exit_code_for(const Error& error) {
    return error.kind == ErrorKind::invalid_input ? k_exit_usage : k_exit_setup;
}

int fail(const Error& error) {
    return fail(exit_code_for(error), error.message);
}

} // namespace fleet
