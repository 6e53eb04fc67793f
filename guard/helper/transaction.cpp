#include "guard/helper/transaction.hpp"

#include "base/untrusted_text.hpp"

namespace fleet {

namespace {

std::string listed(const std::vector<std::string>& names) {
    std::string text;
    for (const std::string& name : names) {
        text += (text.empty() ? "" : ", ") + escape_untrusted(name, LineBreaks::escaped);
    }
    return text;
}

} // namespace

std::vector<std::string> simulated_removals(std::string_view output) {
    std::vector<std::string> removals;
    size_t start = 0;
    while (start < output.size()) {
        size_t end = output.find('\n', start);
        if (end == std::string_view::npos) {
            end = output.size();
        }
        const std::string_view line = output.substr(start, end - start);
        start = end + 1;
        // "Purg" when apt is configured to purge (APT::Get::Purge): a removal as well.
        if (!line.starts_with("Remv ") && !line.starts_with("Purg ")) {
            continue;
        }
        std::string_view name = line.substr(5);
        name = name.substr(0, name.find(' '));
        name = name.substr(0, name.find(':'));
        if (!name.empty()) {
            removals.emplace_back(name);
        }
    }
    return removals;
}

Status judge_removals(const HelperPolicy& policy, const Request& request,
                      const std::vector<std::string>& removals) {
    std::vector<std::string> protected_ones;
    std::vector<std::string> others;
    for (const std::string& name : removals) {
        if (policy.protected_packages.count(name) != 0) {
            protected_ones.push_back(name);
        } else if (!(request.action == "remove" && name == request.name)) {
            others.push_back(name);
        }
    }
    const std::string what = "package " + request.action +
                             (request.name.empty() ? "" : " " + escape_untrusted(request.name));
    if (!protected_ones.empty()) {
        return input_error(what + " would remove protected " + listed(protected_ones) +
                           ": the helper never removes it");
    }
    if (!others.empty()) {
        return input_error(what + " would also remove " + listed(others) +
                           ": only the named package may go");
    }
    return Ok{};
}

} // namespace fleet
