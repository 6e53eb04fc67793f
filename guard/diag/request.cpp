#include "guard/diag/request.hpp"

#include <algorithm>
#include <cstring>

#include "base/untrusted_text.hpp"
#include "guard/common/names.hpp"

namespace fleet {

namespace {

Error refused(const std::string& why) {
    return input_error(why);
}

std::string shown(std::string_view word) {
    return "'" + escape_untrusted(word) + "'";
}

// Reads the word after option `name` at words[i]; advances i past both.
Result<std::string> option_value(const std::vector<std::string>& words, size_t& i) {
    if (i + 1 >= words.size()) {
        return refused(words[i] + " needs a value");
    }
    i += 2;
    return words[i - 1];
}

Result<unsigned> count_value(const std::string& option, const std::string& text) {
    const bool digits =
        !text.empty() && text.size() <= 5 && text[0] != '0' &&
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoul(text) > k_max_diag_lines) {
        return refused(option + " takes a whole number from 1 to " +
                       std::to_string(k_max_diag_lines) + ", not " + shown(text));
    }
    return static_cast<unsigned>(std::stoul(text));
}

// Times as journalctl and docker both read them, in a form that cannot be an option:
// YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS], HH:MM[:SS], today, yesterday, now, or a relative -N<unit>
// (journalctl) / N<unit> (docker) with unit s, m, h, d (journalctl also min, w).
bool is_valid_time(std::string_view text, bool relative_sign) {
    if (text == "today" || text == "yesterday" || text == "now") {
        return true;
    }
    const auto shape = [&](std::string_view pattern) {
        if (text.size() != pattern.size()) {
            return false;
        }
        for (size_t i = 0; i < text.size(); ++i) {
            const bool ok =
                pattern[i] == 'd' ? (text[i] >= '0' && text[i] <= '9') : text[i] == pattern[i];
            if (!ok) {
                return false;
            }
        }
        return true;
    };
    if (shape("dddd-dd-dd") || shape("dddd-dd-dd dd:dd") || shape("dddd-dd-dd dd:dd:dd") ||
        shape("dd:dd") || shape("dd:dd:dd")) {
        return true;
    }
    std::string_view rest = text;
    if (relative_sign) {
        if (rest.empty() || rest[0] != '-') {
            return false;
        }
        rest.remove_prefix(1);
    }
    const size_t digits = rest.find_first_not_of("0123456789");
    if (digits == 0 || digits == std::string_view::npos || digits > 6) {
        return false;
    }
    const std::string_view unit = rest.substr(digits);
    return unit == "s" || unit == "m" || unit == "h" || unit == "d" ||
           (relative_sign && (unit == "min" || unit == "w"));
}

bool is_one_of(std::string_view word, std::initializer_list<std::string_view> set) {
    return std::find(set.begin(), set.end(), word) != set.end();
}

// A unit an answer may name: a valid name, and not a slice or a scope. Those group other
// units' processes (user.slice holds every login's, init.scope PID 1), and what systemd says of
// them lists every process's full command line, which `ps` here deliberately does not show.
Status check_unit(const std::string& unit) {
    if (!is_valid_unit_name(unit)) {
        return refused(shown(unit) + " is not a unit name");
    }
    for (const std::string_view grouping : {".slice", ".scope"}) {
        if (std::string_view(unit).ends_with(grouping)) {
            return refused(shown(unit) + " is a " + std::string(grouping.substr(1)) +
                           ": it would show other processes' command lines");
        }
    }
    return Ok{};
}

// An absolute, normalised path: no ".", "..", "//" or trailing '/'.
Status check_path(const std::string& path) {
    if (path.empty() || path[0] != '/') {
        return refused("a path must be absolute, not " + shown(path));
    }
    if (path == "/") {
        return Ok{};
    }
    size_t start = 1;
    while (start <= path.size()) {
        const size_t end = std::min(path.find('/', start), path.size());
        const std::string_view part(path.data() + start, end - start);
        if (part.empty() || part == "." || part == "..") {
            return refused("a path must be plain (no '.', '..', '//' or trailing '/'): " +
                           shown(path));
        }
        start = end + 1;
    }
    return Ok{};
}

Result<DiagRequest> parse_systemctl(const std::vector<std::string>& words, DiagRequest request) {
    if (words.size() < 2) {
        return refused("systemctl needs a verb: status, is-active, is-enabled, is-failed, "
                       "list-units, list-timers");
    }
    request.verb = words[1];
    if (is_one_of(request.verb, {"status", "is-active", "is-enabled", "is-failed"})) {
        if (words.size() < 3) {
            return refused("systemctl " + request.verb + " needs a UNIT");
        }
        for (size_t i = 2; i < words.size(); ++i) {
            if (Status unit = check_unit(words[i]); !unit) {
                return unit.error();
            }
            request.units.push_back(words[i]);
        }
        return request;
    }
    if (request.verb == "list-units") {
        for (size_t i = 2; i < words.size(); ++i) {
            const std::string& word = words[i];
            if (word == "--failed" && !request.failed_only) {
                request.failed_only = true;
            } else if (word.rfind("--type=", 0) == 0 && request.unit_type.empty()) {
                request.unit_type = word.substr(7);
                if (!is_one_of(request.unit_type,
                               {"service", "socket", "target", "timer", "mount", "automount",
                                "path", "slice", "scope", "device", "swap"})) {
                    return refused("unknown unit type " + shown(request.unit_type));
                }
            } else {
                return refused("systemctl list-units takes only --failed and --type=TYPE, not " +
                               shown(word));
            }
        }
        return request;
    }
    if (request.verb == "list-timers") {
        if (words.size() != 2) {
            return refused("systemctl list-timers takes nothing more");
        }
        return request;
    }
    return refused("systemctl " + shown(request.verb) + " is not allowed");
}

Result<DiagRequest> parse_journalctl(const std::vector<std::string>& words, DiagRequest request) {
    for (size_t i = 1; i < words.size();) {
        const std::string& word = words[i];
        if (word == "-b" || word == "--no-hostname") {
            (word == "-b" ? request.this_boot : request.no_hostname) = true;
            ++i;
            continue;
        }
        if (!is_one_of(word, {"-u", "-n", "--since", "--until", "-p", "-o"})) {
            return refused("journalctl does not take " + shown(word) +
                           " (allowed: -u UNIT, -n N, --since T, --until T, -p PRIO, -b, -o "
                           "FORMAT, --no-hostname)");
        }
        Result<std::string> value = option_value(words, i);
        if (!value) {
            return value.error();
        }
        if (word == "-u") {
            if (Status unit = check_unit(*value); !unit) {
                return unit.error();
            }
            request.units.push_back(*value);
        } else if (word == "-n") {
            Result<unsigned> lines = count_value("-n", *value);
            if (!lines) {
                return lines.error();
            }
            request.lines = *lines;
        } else if (word == "--since" || word == "--until") {
            if (!is_valid_time(*value, true)) {
                return refused(word +
                               " takes YYYY-MM-DD[ HH:MM[:SS]], HH:MM[:SS], today, "
                               "yesterday, now or -N(s|m|min|h|d|w), not " +
                               shown(*value));
            }
            (word == "--since" ? request.since : request.until) = *value;
        } else if (word == "-p") {
            const bool named = is_one_of(
                *value, {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"});
            if (!named && !(value->size() == 1 && (*value)[0] >= '0' && (*value)[0] <= '7')) {
                return refused("-p takes a priority (emerg..debug or 0..7), not " + shown(*value));
            }
            request.priority = *value;
        } else {
            // No json, export or verbose: their records carry _CMDLINE, every command line.
            if (!is_one_of(*value, {"short", "short-iso", "cat"})) {
                return refused("-o takes short, short-iso or cat, not " + shown(*value));
            }
            request.output_format = *value;
        }
    }
    return request;
}

Result<DiagRequest> parse_file_command(const std::vector<std::string>& words, DiagRequest request) {
    const std::string& name = words[0];
    size_t i = 1;
    while (i + 1 < words.size()) {
        const std::string& word = words[i];
        if ((name == "head" || name == "tail") && word == "-n" && !request.lines) {
            Result<std::string> value = option_value(words, i);
            if (!value) {
                return value.error();
            }
            Result<unsigned> lines = count_value("-n", *value);
            if (!lines) {
                return lines.error();
            }
            request.lines = *lines;
        } else if (name == "ls" && word == "-l" && !request.long_format) {
            request.long_format = true;
            ++i;
        } else if (name == "ls" && word == "-a" && !request.all) {
            request.all = true;
            ++i;
        } else {
            return refused(name + " does not take " + shown(word));
        }
    }
    if (i + 1 != words.size()) {
        return refused(name + " needs exactly one PATH");
    }
    request.path = words[i];
    if (Status path = check_path(request.path); !path) {
        return path.error();
    }
    return request;
}

Result<DiagRequest> parse_container(const std::vector<std::string>& words, DiagRequest request) {
    request.verb = words[0];
    if (words.size() == 2 && words[1] == "ps") {
        request.command = DiagCommand::container_ps;
        return request;
    }
    if (words.size() < 2 || words[1] != "logs") {
        return refused(words[0] + " allows only 'ps' and 'logs [--tail N] [--since T] NAME'");
    }
    request.command = DiagCommand::container_logs;
    size_t i = 2;
    while (i + 1 < words.size()) {
        const std::string& word = words[i];
        Result<std::string> value =
            word == "--tail" || word == "--since"
                ? option_value(words, i)
                : Result<std::string>(refused(words[0] + " logs does not take " + shown(word)));
        if (!value) {
            return value.error();
        }
        if (word == "--tail") {
            Result<unsigned> lines = count_value("--tail", *value);
            if (!lines) {
                return lines.error();
            }
            request.lines = *lines;
        } else {
            if (!is_valid_time(*value, false)) {
                return refused("--since takes YYYY-MM-DD[ HH:MM[:SS]] or N(s|m|h|d), not " +
                               shown(*value));
            }
            request.since = *value;
        }
    }
    if (i + 1 != words.size()) {
        return refused(words[0] + " logs needs exactly one NAME");
    }
    request.container = words[i];
    if (!is_valid_container_name(request.container)) {
        return refused(shown(request.container) + " is not a container name");
    }
    return request;
}

} // namespace

Result<DiagRequest> parse_diag_request(const std::vector<std::string>& words) {
    if (words.empty()) {
        return refused("an empty request");
    }
    DiagRequest request;
    const std::string& name = words[0];
    if (name == "systemctl") {
        request.command = DiagCommand::systemctl;
        return parse_systemctl(words, request);
    }
    if (name == "journalctl") {
        request.command = DiagCommand::journalctl;
        return parse_journalctl(words, request);
    }
    const std::pair<std::string_view, DiagCommand> files[] = {
        {"cat", DiagCommand::cat}, {"head", DiagCommand::head}, {"tail", DiagCommand::tail},
        {"ls", DiagCommand::ls},   {"stat", DiagCommand::stat},
    };
    for (const auto& [file_name, command] : files) {
        if (name == file_name) {
            request.command = command;
            return parse_file_command(words, request);
        }
    }
    const std::pair<std::string_view, DiagCommand> plain[] = {
        {"df", DiagCommand::df},
        {"free", DiagCommand::free},
        {"uptime", DiagCommand::uptime},
        {"ps", DiagCommand::ps},
    };
    for (const auto& [plain_name, command] : plain) {
        if (name == plain_name) {
            if (words.size() != 1) {
                return refused(name + " takes no arguments");
            }
            request.command = command;
            return request;
        }
    }
    if (name == "ss") {
        if (words.size() != 2 || words[1] != "-tlnu") {
            return refused("ss allows exactly 'ss -tlnu'");
        }
        request.command = DiagCommand::ss;
        return request;
    }
    if (name == "docker" || name == "podman") {
        return parse_container(words, request);
    }
    return refused(shown(name) + " is not an allowed command (an empty request lists them)");
}

std::string diag_command_name(const DiagRequest& request) {
    switch (request.command) {
    case DiagCommand::systemctl:
        return "systemctl";
    case DiagCommand::journalctl:
        return "journalctl";
    case DiagCommand::cat:
        return "cat";
    case DiagCommand::head:
        return "head";
    case DiagCommand::tail:
        return "tail";
    case DiagCommand::ls:
        return "ls";
    case DiagCommand::stat:
        return "stat";
    case DiagCommand::df:
        return "df";
    case DiagCommand::free:
        return "free";
    case DiagCommand::uptime:
        return "uptime";
    case DiagCommand::ps:
        return "ps";
    case DiagCommand::ss:
        return "ss";
    case DiagCommand::container_ps:
    case DiagCommand::container_logs:
        return request.verb;
    }
    return "unknown";
}

bool is_file_command(DiagCommand command) {
    return command == DiagCommand::cat || command == DiagCommand::head ||
           command == DiagCommand::tail || command == DiagCommand::ls ||
           command == DiagCommand::stat;
}

nlohmann::json diag_request_json(const DiagRequest& request) {
    nlohmann::json json = {{"command", diag_command_name(request)}};
    const auto add = [&](const char* key, const std::string& value) {
        if (!value.empty()) {
            json[key] = escape_untrusted(value);
        }
    };
    add("verb", request.command == DiagCommand::container_ps     ? "ps"
                : request.command == DiagCommand::container_logs ? "logs"
                                                                 : request.verb);
    if (!request.units.empty()) {
        json["units"] = request.units;
    }
    add("type", request.unit_type);
    add("since", request.since);
    add("until", request.until);
    add("priority", request.priority);
    add("output", request.output_format);
    add("path", request.path);
    add("container", request.container);
    if (request.lines) {
        json["lines"] = *request.lines;
    }
    for (const auto& [key, flag] : {std::pair{"failed", request.failed_only},
                                    {"boot", request.this_boot},
                                    {"no_hostname", request.no_hostname},
                                    {"long", request.long_format},
                                    {"all", request.all}}) {
        if (flag) {
            json[key] = true;
        }
    }
    return json;
}

std::string diag_usage() {
    return R"(fleet-diag: read-only diagnostics. Allowed requests:
  systemctl status|is-active|is-enabled|is-failed UNIT...
  systemctl list-units [--failed] [--type=TYPE]
  systemctl list-timers
  journalctl [-u UNIT]... [-n N] [--since T] [--until T] [-p PRIO] [-b]
             [-o short|short-iso|cat] [--no-hostname]
  cat PATH | head [-n N] PATH | tail [-n N] PATH | ls [-l] [-a] PATH | stat PATH
  df | free | uptime | ps | ss -tlnu
  docker ps | docker logs [--tail N] [--since T] NAME   (podman likewise)
Words split on spaces; '...' and "..." group; no other character has meaning, and shell
metacharacters are refused. Options come before operands, spelled exactly as above.
)";
}

} // namespace fleet
