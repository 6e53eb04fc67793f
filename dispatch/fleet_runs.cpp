#include "dispatch/fleet_runs.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <limits>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "dispatch/config.hpp"
#include "runner/run_id.hpp"
#include "runner/run_store.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

using json = nlohmann::json;

constexpr size_t k_max_status = size_t{1} << 20;

// The time a run id names ("YYYYMMDD-HHMMSS-…", UTC); nullopt for anything else.
std::optional<WallTime> run_id_time(const std::string& id) {
    if (!is_valid_run_id(id)) {
        return std::nullopt;
    }
    std::tm parts{};
    const auto number = [&](size_t at, size_t length) { return std::stoi(id.substr(at, length)); };
    parts.tm_year = number(0, 4) - 1900;
    parts.tm_mon = number(4, 2) - 1;
    parts.tm_mday = number(6, 2);
    parts.tm_hour = number(9, 2);
    parts.tm_min = number(11, 2);
    parts.tm_sec = number(13, 2);
    return std::chrono::system_clock::from_time_t(::timegm(&parts));
}

// Why a status read from a file is no run to show, or "": more agents than any config has, a
// name that is not an agent's (it would name files and columns), an agent named twice.
std::string vet_status(const RunStatus& status) {
    if (status.agents.size() > k_max_agents) {
        return "more than " + std::to_string(k_max_agents) + " agents";
    }
    std::set<std::string> names;
    for (const AgentStatus& agent : status.agents) {
        if (!is_valid_name(agent.name)) {
            return "an agent name that is not an agent's";
        }
        if (!names.insert(agent.name).second) {
            return "agent " + agent.name + " named twice";
        }
    }
    return "";
}

FleetRun unreadable_run(const std::string& host, const std::string& run_id, std::string why) {
    FleetRun run;
    run.host = host;
    run.run_id = run_id;
    run.unreadable = why.empty() ? "unreadable" : std::move(why);
    return run;
}

// The run `status` says, of `host` and `id` (where it was found, never what the file claims),
// or unreadable when it is no run to show; `source` names the file in the reason.
FleetRun vetted_run(const std::string& host, const std::string& id, RunStatus status,
                    const std::string& source) {
    if (std::string why = vet_status(status); !why.empty()) {
        return unreadable_run(host, id, source + why);
    }
    FleetRun run;
    run.host = host;
    run.run_id = id;
    run.status = std::move(status);
    run.status.run_id = id;
    return run;
}

// The last k_tail_lines lines of an agent's log, from at most its last k_max_tail_bytes: a log
// an agent made sparse and huge (truncate -s 4T) costs one read of that much, never a scan.
std::optional<std::string> log_tail(int dir_fd, const std::string& agent) {
    Result<Fd> file = open_regular_at(dir_fd, agent + ".log", std::numeric_limits<size_t>::max());
    struct stat info {};
    if (!file || ::fstat(file->get(), &info) != 0) {
        return std::nullopt;
    }
    const off_t from = std::max<off_t>(0, info.st_size - static_cast<off_t>(k_max_tail_bytes));
    std::string text(static_cast<size_t>(info.st_size - from), '\0');
    const ssize_t n = ::pread(file->get(), text.data(), text.size(), from);
    if (n < 0) {
        return std::nullopt;
    }
    text.resize(static_cast<size_t>(n));
    // A final newline ends the last line; it does not start another.
    size_t lines = 0;
    for (size_t at = text.size() - std::min<size_t>(text.size(), 1); at-- > 0;) {
        if (text[at] == '\n' && ++lines == k_tail_lines) {
            return text.substr(at + 1);
        }
    }
    return text;
}

// What a run directory holds beside its status: each agent's diffstat and log tail. Only
// agents' names name files (status.json is an agent's to rewrite).
void read_agent_files(int dir_fd, FleetRun& run) {
    for (const AgentStatus& agent : run.status.agents) {
        if (!is_valid_name(agent.name)) {
            continue;
        }
        if (agent.repo) { // the file is there when it changed something
            Result<std::string> stat =
                read_file_at(dir_fd, agent.name + ".diffstat", k_max_diffstat_bytes);
            if (stat) {
                run.diffstat[agent.name] = std::move(*stat);
            }
        }
        if (std::optional<std::string> tail = log_tail(dir_fd, agent.name)) {
            run.log_tail[agent.name] = std::move(*tail);
        }
    }
}

// A run directory copied from a host: its status.json as it was, "running" included.
FleetRun read_copied_run(int parent_fd, const std::string& id, const std::string& host) {
    const Fd dir(::openat(parent_fd, id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) {
        return unreadable_run(host, id, std::string("cannot open: ") + std::strerror(errno));
    }
    Result<std::string> text = read_file_at(dir.get(), "status.json", k_max_status);
    if (!text) {
        return unreadable_run(host, id, "status.json: " + text.error().message);
    }
    Result<RunStatus> status = run_status_from_json(*text);
    if (!status) {
        return unreadable_run(host, id, status.error().message); // it names status.json
    }
    FleetRun run = vetted_run(host, id, std::move(*status), "status.json: ");
    if (run.unreadable.empty()) {
        read_agent_files(dir.get(), run);
    }
    return run;
}

bool is_instance_id(const std::string& name) {
    const size_t dash = name.find('-');
    if (dash == std::string::npos ||
        (name.substr(0, dash) != "i" && name.substr(0, dash) != "mi")) {
        return false;
    }
    const std::string hex = name.substr(dash + 1);
    return hex.size() >= 8 && hex.size() <= 17 &&
           hex.find_first_not_of("0123456789abcdef") == std::string::npos;
}

class Walk {
public:
    Walk(const FleetFilter& filter, std::vector<FleetRun>& runs, std::vector<std::string>& warnings)
        : m_filter(filter), m_runs(runs), m_warnings(warnings) {}

    // `dir_fd`'s entries; `path` names it under the --from directory (empty at its top).
    void directory(int dir_fd, const std::vector<std::string>& path) {
        DIR* stream = ::fdopendir(::dup(dir_fd));
        if (stream == nullptr) {
            m_warnings.push_back(shown(path) + ": " + std::strerror(errno));
            return;
        }
        std::vector<std::string> names;
        while (const dirent* entry = ::readdir(stream)) {
            const std::string name = entry->d_name;
            if (name != "." && name != "..") {
                names.push_back(name);
            }
        }
        ::closedir(stream);
        std::sort(names.begin(), names.end());
        for (const std::string& name : names) {
            entry(dir_fd, path, name);
        }
    }

private:
    static std::string shown(const std::vector<std::string>& path) {
        std::string text = ".";
        for (const std::string& part : path) {
            text += "/" + part;
        }
        return text;
    }

    void entry(int dir_fd, std::vector<std::string> path, const std::string& name) {
        struct stat info {};
        path.push_back(name);
        if (::fstatat(dir_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
            m_warnings.push_back(shown(path) + ": " + std::strerror(errno));
            return;
        }
        if (S_ISLNK(info.st_mode)) {
            m_warnings.push_back(shown(path) + ": a symbolic link, not followed");
            return;
        }
        if (S_ISDIR(info.st_mode) && is_valid_run_id(name) && path.size() >= 2) {
            add(read_copied_run(dir_fd, name, path[path.size() - 2]));
            return;
        }
        if (S_ISDIR(info.st_mode)) {
            if (path.size() > static_cast<size_t>(k_max_depth)) {
                m_warnings.push_back(shown(path) + ": deeper than any layout, not read");
                return;
            }
            const Fd sub(
                ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub.valid()) {
                m_warnings.push_back(shown(path) + ": " + std::strerror(errno));
                return;
            }
            directory(sub.get(), path);
            return;
        }
        if ((name == "runs.jsonl" || name == "stdout") && path.size() >= 2) {
            if (S_ISREG(info.st_mode)) {
                lines(dir_fd, path);
            } else {
                m_warnings.push_back(shown(path) + ": not a regular file, not read");
            }
        }
    }

    // A file of run lines; other lines (what else a command printed) are passed over.
    void lines(int dir_fd, const std::vector<std::string>& path) {
        std::string host = path[path.size() - 2];
        if (path.back() == "stdout") {
            const auto instance = std::find_if(path.begin(), path.end(), is_instance_id);
            host = instance != path.end() ? *instance : host;
        }
        Result<std::string> text = read_file_at(dir_fd, path.back(), k_max_fetched_file);
        if (!text) {
            m_warnings.push_back(shown(path) + ": " + text.error().message);
            return;
        }
        // Lines that name no run count once per file: a file of "{}" lines is one entry.
        size_t read = 0, nameless = 0;
        std::string why;
        for (size_t at = 0; at < text->size();) {
            size_t end = text->find('\n', at);
            end = end == std::string::npos ? text->size() : end;
            const std::string_view line(text->data() + at, end - at);
            at = end + 1;
            if (line.empty() || line.front() != '{') {
                continue;
            }
            if (++read > k_max_file_runs) {
                m_warnings.push_back(shown(path) + ": more than " +
                                     std::to_string(k_max_file_runs) + " runs, the rest not read");
                break;
            }
            FleetRun run = line.size() > k_max_line ? unreadable_run(host, "", "a line over 1 MiB")
                                                    : run_from_json_line(line, host);
            if (run.run_id.empty()) {
                why = why.empty() ? run.unreadable : why;
                ++nameless;
                continue;
            }
            add(std::move(run));
        }
        if (nameless > 0) {
            add(unreadable_run(host, "",
                               std::to_string(nameless) + " line" + (nameless == 1 ? "" : "s") +
                                   " of " + shown(path) + " naming no run; the first: " + why));
        }
    }

    void add(FleetRun run) {
        if (keep_run(run, m_filter)) {
            m_runs.push_back(std::move(run));
        }
    }

    const FleetFilter& m_filter;
    std::vector<FleetRun>& m_runs;
    std::vector<std::string>& m_warnings;
};

// A string-valued object of at most the run's agents, each value within `cap` (a longer log
// tail keeps its end; a longer diffstat is left out).
std::map<std::string, std::string> agent_texts(const json& object, const RunStatus& status,
                                               size_t cap, bool keep_end) {
    std::map<std::string, std::string> texts;
    if (!object.is_object()) {
        return texts;
    }
    for (const AgentStatus& agent : status.agents) {
        const auto found = object.find(agent.name);
        if (found == object.end() || !found->is_string()) {
            continue;
        }
        std::string text = found->get<std::string>();
        if (text.size() > cap && !keep_end) {
            continue;
        }
        texts[agent.name] = text.size() > cap ? text.substr(text.size() - cap) : text;
    }
    return texts;
}

} // namespace

void newest_first(std::vector<FleetRun>& runs) {
    std::stable_sort(runs.begin(), runs.end(), [](const FleetRun& a, const FleetRun& b) {
        if (a.run_id != b.run_id) {
            return a.run_id > b.run_id;
        }
        return a.host != b.host ? a.host < b.host : a.unreadable.empty() > b.unreadable.empty();
    });
    // One run per host and id (the output of every earlier SSM command a sync brought along,
    // overlapping --from directories): the first, a readable one when there is one.
    runs.erase(std::unique(runs.begin(), runs.end(),
                           [](const FleetRun& a, const FleetRun& b) {
                               return !a.run_id.empty() && a.run_id == b.run_id && a.host == b.host;
                           }),
               runs.end());
}

bool keep_run(const FleetRun& run, const FleetFilter& filter) {
    if (filter.since) {
        WallTime started{};
        std::optional<WallTime> when = run_id_time(run.run_id);
        if (run.unreadable.empty() && parse_timestamp(run.status.started_at, started)) {
            when = started;
        }
        // What names no run has no time: shown, as what cannot be read always is.
        if (when ? *when < *filter.since : run.unreadable.empty()) {
            return false;
        }
    }
    if (!run.unreadable.empty()) {
        return true;
    }
    return std::all_of(filter.labels.begin(), filter.labels.end(), [&](const auto& label) {
        const auto found = run.status.labels.find(label.first);
        return found != run.status.labels.end() && found->second == label.second;
    });
}

Result<std::vector<FleetRun>> read_host_runs(const std::string& runs_dir, const std::string& host,
                                             const FleetFilter& filter) {
    const RunStore store(runs_dir);
    Result<std::vector<std::string>> ids = store.list_ids();
    if (!ids) {
        return ids.error();
    }
    std::vector<FleetRun> runs;
    for (const std::string& id : *ids) {
        Result<RunStatus> status = store.read_status(id);
        Result<RunDir> dir = status ? store.open_run(id) : status.error();
        FleetRun run =
            dir ? vetted_run(host, id, std::move(*status), "run " + id + ": status.json: ")
                : unreadable_run(host, id, dir.error().message);
        if (!keep_run(run, filter)) {
            continue;
        }
        if (run.unreadable.empty()) {
            read_agent_files(dir->dir.get(), run);
        }
        runs.push_back(std::move(run));
    }
    newest_first(runs);
    return runs;
}

Result<std::vector<FleetRun>> read_fetched_runs(const std::string& dir, const FleetFilter& filter,
                                                std::vector<std::string>& warnings) {
    const Fd top(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!top.valid()) {
        return input_error("--from " + dir + ": " + std::strerror(errno));
    }
    std::vector<FleetRun> runs;
    Walk(filter, runs, warnings).directory(top.get(), {});
    newest_first(runs);
    return runs;
}

std::string to_json_line(const FleetRun& run) {
    json line = {{"host", run.host}, {"run_id", run.run_id}};
    if (!run.unreadable.empty()) {
        line["unreadable"] = run.unreadable;
    } else {
        line["status"] = json::parse(to_json(run.status, -1));
        line["diffstat"] = run.diffstat;
        line["log_tail"] = run.log_tail;
    }
    // ASCII only (\uXXXX), as status.json is: no C1 control reaches a terminal raw. Agent text
    // need not be UTF-8: what is not becomes U+FFFD rather than an exception.
    return line.dump(-1, ' ', true, json::error_handler_t::replace);
}

FleetRun run_from_json_line(std::string_view line, const std::string& host) {
    try {
        const json document = json::parse(line);
        if (!document.is_object()) {
            return unreadable_run(host, "", "not a JSON object");
        }
        const json id = document.value("run_id", json());
        if (!id.is_string() || !is_valid_run_id(id.get<std::string>())) {
            return unreadable_run(host, "", "no valid run_id");
        }
        const std::string run_id = id.get<std::string>();
        if (const json why = document.value("unreadable", json()); why.is_string()) {
            return unreadable_run(host, run_id, why.get<std::string>().substr(0, 500));
        }
        const auto status_json = document.find("status");
        if (status_json == document.end() || !status_json->is_object()) {
            return unreadable_run(host, run_id, "no status object");
        }
        Result<RunStatus> status =
            run_status_from_json(status_json->dump(-1, ' ', false, json::error_handler_t::replace));
        if (!status) {
            return unreadable_run(host, run_id, "status: " + status.error().message);
        }
        FleetRun run = vetted_run(host, run_id, std::move(*status), "status: ");
        if (!run.unreadable.empty()) {
            return run;
        }
        run.diffstat = agent_texts(document.value("diffstat", json()), run.status,
                                   k_max_diffstat_bytes, false);
        run.log_tail =
            agent_texts(document.value("log_tail", json()), run.status, k_max_tail_bytes, true);
        return run;
    } catch (const json::exception& e) {
        return unreadable_run(host, "", std::string("not JSON: ") + e.what());
    }
}

} // namespace fleet
