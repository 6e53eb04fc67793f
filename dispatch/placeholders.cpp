#include "dispatch/placeholders.hpp"

namespace fleet {

namespace {

// Walks `text`, calling `literal(piece)` and `name(placeholder)`; the shared syntax check.
template <typename Literal, typename Name>
Status walk(std::string_view text, Literal literal, Name name) {
    size_t pos = 0;
    while (pos < text.size()) {
        const char c = text[pos];
        if ((c == '{' || c == '}') && pos + 1 < text.size() && text[pos + 1] == c) {
            literal(std::string_view(&text[pos], 1));
            pos += 2;
        } else if (c == '{') {
            const size_t close = text.find('}', pos);
            if (close == std::string_view::npos) {
                return input_error("'{' without '}' in '" + std::string(text) + "'");
            }
            if (Status named = name(std::string(text.substr(pos + 1, close - pos - 1))); !named) {
                return named;
            }
            pos = close + 1;
        } else if (c == '}') {
            return input_error("'}' without '{' in '" + std::string(text) +
                               "' (write '}}' for a literal brace)");
        } else {
            const size_t next = text.find_first_of("{}", pos);
            const size_t end = next == std::string_view::npos ? text.size() : next;
            literal(text.substr(pos, end - pos));
            pos = end;
        }
    }
    return Ok{};
}

} // namespace

Result<std::string> expand_placeholders(std::string_view text,
                                        const std::map<std::string, std::string>& values) {
    std::string out;
    Status walked = walk(
        text, [&](std::string_view piece) { out.append(piece); },
        [&](const std::string& name) -> Status {
            const auto it = values.find(name);
            if (it == values.end()) {
                std::string known;
                for (const auto& [key, value] : values) {
                    known += (known.empty() ? "{" : ", {") + key + "}";
                }
                return input_error("unknown placeholder {" + name + "} (known: " + known + ")");
            }
            out += it->second;
            return Ok{};
        });
    if (!walked) {
        return walked.error();
    }
    return out;
}

Result<std::vector<std::string>> placeholder_names(std::string_view text) {
    std::vector<std::string> names;
    Status walked = walk(
        text, [](std::string_view) {},
        [&](const std::string& name) -> Status {
            names.push_back(name);
            return Ok{};
        });
    if (!walked) {
        return walked.error();
    }
    return names;
}

} // namespace fleet
