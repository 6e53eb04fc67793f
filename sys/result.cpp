#include "sys/result.hpp"

#include <cstring>

namespace fleet {

Error system_error(const std::string& what, int err) {
    return Error{ErrorKind::system, what + ": " + std::strerror(err)};
}

Error input_error(std::string message) {
    return Error{ErrorKind::invalid_input, std::move(message)};
}

} // namespace fleet
