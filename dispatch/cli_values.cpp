#include "dispatch/cli_values.hpp"

#include <algorithm>

namespace fleet {

Result<size_t> parse_count(const char* option, const std::string& text) {
    if (text.empty() || text.size() > 7 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
        return input_error(std::string("--") + option + " '" + text + "' is not a number");
    }
    return static_cast<size_t>(std::stoul(text));
}

Result<Labels> parse_labels(const std::vector<std::string>& texts) {
    Labels labels;
    for (const std::string& text : texts) {
        const size_t equals = text.find('=');
        const std::string key = text.substr(0, equals);
        const bool key_ok =
            !key.empty() && key.size() <= 64 &&
            key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.-") == std::string::npos;
        if (equals == std::string::npos || !key_ok || text.size() - equals - 1 > 256) {
            return input_error("--label '" + text +
                               "' is not KEY=VALUE (KEY: [a-z0-9_.-], VALUE: up to 256 bytes)");
        }
        labels.emplace_back(key, text.substr(equals + 1));
    }
    return labels;
}

Result<std::vector<std::string>> parse_agents(const std::string& text) {
    std::vector<std::string> agents;
    size_t start = 0;
    while (start <= text.size()) {
        const size_t comma = text.find(',', start);
        const size_t end = comma == std::string::npos ? text.size() : comma;
        const std::string agent = text.substr(start, end - start);
        if (agent.empty()) {
            return input_error("-a '" + text + "' has an empty agent name");
        }
        if (std::find(agents.begin(), agents.end(), agent) != agents.end()) {
            return input_error("-a '" + text + "' names agent '" + agent + "' twice");
        }
        agents.push_back(agent);
        start = end + 1;
    }
    return agents;
}

} // namespace fleet
