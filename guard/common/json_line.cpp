#include "guard/common/json_line.hpp"

namespace fleet {

std::string json_line(const nlohmann::json& value) {
    return value.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

} // namespace fleet
