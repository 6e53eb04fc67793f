#include "guard/diag/tokenizer.hpp"

#include <algorithm>

#include "base/untrusted_text.hpp"

namespace fleet {

namespace {

constexpr size_t k_max_request_bytes = 4096;
constexpr size_t k_max_words = 64;
constexpr std::string_view k_metacharacters = ";&|<>()$`\\*?[]{}!#~^";

Error refused(const std::string& why) {
    return input_error(why);
}

Status check_text(std::string_view text) {
    if (text.size() > k_max_request_bytes) {
        return refused("the request is longer than 4096 bytes");
    }
    if (escape_untrusted(text) != text || text.find('\t') != std::string_view::npos ||
        text.find('\n') != std::string_view::npos) {
        return refused("the request holds control characters or invalid UTF-8");
    }
    for (const char c : text) {
        if (k_metacharacters.find(c) != std::string_view::npos) {
            return refused("the request holds the shell metacharacter '" + std::string(1, c) +
                           "' (quoted or not): fleet-diag runs no shell");
        }
    }
    return Ok{};
}

} // namespace

Status check_word(std::string_view word) {
    if (word.empty()) {
        return refused("the request has an empty word");
    }
    return check_text(word);
}

Result<std::vector<std::string>> tokenize(std::string_view request) {
    if (Status text = check_text(request); !text) {
        return text.error();
    }
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (const char c : request) {
        if (quote != 0) {
            if (c == quote) {
                quote = 0;
            } else {
                word += c;
            }
        } else if (c == ' ') {
            if (in_word) {
                words.push_back(std::move(word));
                word.clear();
                in_word = false;
            }
        } else if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (quote != 0) {
        return refused("the request has an unterminated quote");
    }
    if (in_word) {
        words.push_back(std::move(word));
    }
    if (std::any_of(words.begin(), words.end(), [](const std::string& w) { return w.empty(); })) {
        return refused("the request has an empty word");
    }
    if (words.size() > k_max_words) {
        return refused("the request has more than 64 words");
    }
    return words;
}

} // namespace fleet
