#include "sys/host.hpp"

#include <climits>
#include <unistd.h>

namespace fleet {

std::string host_name() {
    char name[HOST_NAME_MAX + 1] = {};
    if (::gethostname(name, sizeof name - 1) != 0) {
        return "";
    }
    return name;
}

} // namespace fleet
