#include "dispatch/run_metrics.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <map>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/atomic_file.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {
namespace {

using nlohmann::json;

constexpr size_t k_max_state_bytes = size_t{1} << 20;
constexpr const char* k_state_name = "metrics.json";
constexpr const char* k_lock_name = "metrics.lock";

// How long a run's end waits for another's to finish with the state file: the holder takes
// milliseconds, so a lock held longer is not one worth holding a run's end up for.
constexpr std::chrono::seconds k_lock_wait{5};

// flock(LOCK_EX), retried without blocking until `wait` has passed: 0, or the errno
// (EWOULDBLOCK once the time is up).
int lock_within(int fd, std::chrono::seconds wait) {
    const auto until = std::chrono::steady_clock::now() + wait;
    while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            return errno;
        }
        if (std::chrono::steady_clock::now() >= until) {
            return EWOULDBLOCK;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
}

std::optional<double> unix_seconds(const std::string& timestamp) {
    WallTime time;
    if (!parse_timestamp(timestamp, time)) {
        return std::nullopt;
    }
    return std::chrono::duration<double>(time.time_since_epoch()).count();
}

// What an agent of a finished run counts as; empty: it did not run.
std::string agent_outcome(const AgentStatus& agent, RunState run) {
    switch (agent.state) {
    case AgentState::pending:
    case AgentState::skipped:
        return "";
    case AgentState::running:
        return run == RunState::lost ? "lost" : "";
    default:
        return to_string(agent.state);
    }
}

uint64_t saturating_add(uint64_t total, std::optional<uint64_t> more) {
    const uint64_t add = more.value_or(0);
    return total > std::numeric_limits<uint64_t>::max() - add ? std::numeric_limits<uint64_t>::max()
                                                              : total + add;
}

void count_agent(AgentMetrics& metrics, const AgentStatus& agent, const std::string& outcome) {
    ++metrics.runs[outcome];
    metrics.last_outcome = outcome;
    metrics.last_end = unix_seconds(agent.finished_at);
    const std::optional<double> start = unix_seconds(agent.started_at);
    metrics.last_duration = start && metrics.last_end
                                ? std::optional<double>(std::max(0.0, *metrics.last_end - *start))
                                : std::nullopt;
    if (outcome == "succeeded" && metrics.last_end) {
        metrics.last_success = metrics.last_end;
    }
    // What the agent printed of its usage is the agent's to choose: a negative or non-finite
    // cost is not counted, and the totals stop at their largest value rather than wrap (a
    // counter that goes down reads as a reset to Prometheus).
    const AgentUsage& usage = agent.usage;
    const std::optional<double> cost =
        usage.cost_usd && std::isfinite(*usage.cost_usd) && *usage.cost_usd >= 0 ? usage.cost_usd
                                                                                 : std::nullopt;
    metrics.last_input_tokens = usage.input_tokens;
    metrics.last_output_tokens = usage.output_tokens;
    metrics.last_cost_usd = cost;
    metrics.input_tokens_total = saturating_add(metrics.input_tokens_total, usage.input_tokens);
    metrics.output_tokens_total = saturating_add(metrics.output_tokens_total, usage.output_tokens);
    const double cost_total = metrics.cost_usd_total + cost.value_or(0);
    metrics.cost_usd_total = std::isfinite(cost_total) ? cost_total : metrics.cost_usd_total;
    metrics.last_memory_peak.reset();
    metrics.last_cpu_seconds.reset();
    if (agent.resources) {
        metrics.last_memory_peak = agent.resources->memory_peak;
        metrics.last_cpu_seconds = agent.resources->cpu_seconds;
        metrics.oom_kills_total += agent.resources->oom_kills;
    }
    metrics.confinement = agent.confinement ? to_string(agent.confinement->level) : "";
    metrics.limits_applied =
        agent.limits ? std::optional<bool>(agent.limits->applied) : std::nullopt;
}

// Optional values as JSON: absent when unset.
template <typename T>
void put(json& object, const char* key, const std::optional<T>& value) {
    if (value) {
        object[key] = *value;
    }
}

// A value read back as exactly its type: nlohmann's get<uint64_t>() would turn -1 into 2^64-1
// and get<double>() take an integer's text of 400 digits as inf.
struct BadValue {};

template <typename T>
T typed(const json& value) {
    bool right = false;
    if constexpr (std::is_same_v<T, bool>) {
        right = value.is_boolean();
    } else if constexpr (std::is_same_v<T, std::string>) {
        right = value.is_string();
    } else if constexpr (std::is_integral_v<T>) {
        right = value.is_number_unsigned() || (std::is_signed_v<T> && value.is_number_integer());
    } else {
        right = value.is_number() && std::isfinite(value.get<double>()) && value.get<double>() >= 0;
    }
    if (!right) {
        throw BadValue{};
    }
    return value.get<T>();
}

std::map<std::string, uint64_t> counts(const json& object) {
    if (!object.is_object()) {
        throw BadValue{};
    }
    std::map<std::string, uint64_t> result;
    for (const auto& [key, value] : object.items()) {
        result[key] = typed<uint64_t>(value);
    }
    return result;
}

template <typename T>
void get(const json& object, const char* key, std::optional<T>& value) {
    if (object.contains(key)) {
        value = typed<T>(object.at(key));
    }
}

json agent_json(const AgentMetrics& metrics) {
    json object = {{"runs", metrics.runs},
                   {"last_outcome", metrics.last_outcome},
                   {"confinement", metrics.confinement},
                   {"input_tokens_total", metrics.input_tokens_total},
                   {"output_tokens_total", metrics.output_tokens_total},
                   {"cost_usd_total", metrics.cost_usd_total},
                   {"oom_kills_total", metrics.oom_kills_total}};
    put(object, "last_success", metrics.last_success);
    put(object, "last_end", metrics.last_end);
    put(object, "last_duration", metrics.last_duration);
    put(object, "last_input_tokens", metrics.last_input_tokens);
    put(object, "last_output_tokens", metrics.last_output_tokens);
    put(object, "last_cost_usd", metrics.last_cost_usd);
    put(object, "last_memory_peak", metrics.last_memory_peak);
    put(object, "last_cpu_seconds", metrics.last_cpu_seconds);
    put(object, "limits_applied", metrics.limits_applied);
    return object;
}

AgentMetrics agent_from_json(const json& object) {
    AgentMetrics metrics;
    metrics.runs = counts(object.at("runs"));
    metrics.last_outcome = typed<std::string>(object.at("last_outcome"));
    metrics.confinement = typed<std::string>(object.at("confinement"));
    metrics.input_tokens_total = typed<uint64_t>(object.at("input_tokens_total"));
    metrics.output_tokens_total = typed<uint64_t>(object.at("output_tokens_total"));
    metrics.cost_usd_total = typed<double>(object.at("cost_usd_total"));
    metrics.oom_kills_total = typed<uint64_t>(object.at("oom_kills_total"));
    get(object, "last_success", metrics.last_success);
    get(object, "last_end", metrics.last_end);
    get(object, "last_duration", metrics.last_duration);
    get(object, "last_input_tokens", metrics.last_input_tokens);
    get(object, "last_output_tokens", metrics.last_output_tokens);
    get(object, "last_cost_usd", metrics.last_cost_usd);
    get(object, "last_memory_peak", metrics.last_memory_peak);
    get(object, "last_cpu_seconds", metrics.last_cpu_seconds);
    get(object, "limits_applied", metrics.limits_applied);
    return metrics;
}

// Outcome words and agent names are ours ([a-z0-9_-]); a state file is the user's to edit,
// so a name that would need escaping in a label is dropped rather than written.
bool plain_label(const std::string& text) {
    if (text.empty() || text.size() > 64) {
        return false;
    }
    for (const char c : text) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

std::string number(double value) {
    if (!std::isfinite(value)) {
        return std::isnan(value) ? "NaN" : (value > 0 ? "+Inf" : "-Inf");
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", value);
    return text;
}

// One metric family: its HELP and TYPE lines, then a line per series that has a value.
class Exposition {
public:
    using Series = std::vector<std::pair<std::string, double>>; // labels, value

    void family(const std::string& name, const char* type, const char* help, const Series& series) {
        if (series.empty()) {
            return;
        }
        m_text += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
        for (const auto& [labels, value] : series) {
            m_text +=
                name + (labels.empty() ? "" : "{" + labels + "}") + " " + number(value) + "\n";
        }
    }
    const std::string& text() const { return m_text; }

private:
    std::string m_text;
};

std::string label(const std::string& agent) {
    return "agent=\"" + agent + "\"";
}

// A series per agent that has the value.
template <typename Value>
Exposition::Series per_agent(const MetricsState& state, Value value) {
    Exposition::Series series;
    for (const auto& [name, metrics] : state.agents) {
        if (const std::optional<double> each = value(metrics); plain_label(name) && each) {
            series.emplace_back(label(name), *each);
        }
    }
    return series;
}

template <typename T>
std::optional<double> as_double(const std::optional<T>& value) {
    return value ? std::optional<double>(static_cast<double>(*value)) : std::nullopt;
}

} // namespace

void count_run(MetricsState& state, const RunStatus& status) {
    ++state.runs[to_string(status.state)];
    for (const AgentStatus& agent : status.agents) {
        if (const std::string outcome = agent_outcome(agent, status.state); !outcome.empty()) {
            count_agent(state.agents[agent.name], agent, outcome);
        }
    }
}

std::string to_json(const MetricsState& state) {
    json agents = json::object();
    for (const auto& [name, metrics] : state.agents) {
        agents[name] = agent_json(metrics);
    }
    return json{{"version", 1}, {"runs", state.runs}, {"agents", agents}}.dump() + "\n";
}

Result<MetricsState> metrics_state_from_json(const std::string& text) {
    try {
        const json document = json::parse(text);
        if (typed<uint64_t>(document.at("version")) != 1) {
            return input_error("metrics state: version is not 1");
        }
        MetricsState state;
        state.runs = counts(document.at("runs"));
        if (!document.at("agents").is_object()) {
            throw BadValue{};
        }
        for (const auto& [name, object] : document.at("agents").items()) {
            state.agents[name] = agent_from_json(object);
        }
        return state;
    } catch (const json::exception& e) {
        return input_error(std::string("metrics state: ") + e.what());
    } catch (const BadValue&) {
        return input_error("metrics state: a value of the wrong type");
    }
}

// The families labelled by outcome or level.
void labelled_families(Exposition& out, const MetricsState& state) {
    Exposition::Series runs;
    for (const auto& [outcome, count] : state.runs) {
        if (plain_label(outcome)) {
            runs.emplace_back("outcome=\"" + outcome + "\"", static_cast<double>(count));
        }
    }
    out.family("fleet_dispatch_runs_total", "counter", "Runs that ended, by outcome.", runs);
    Exposition::Series agent_runs, last_outcome, confinement;
    for (const auto& [name, metrics] : state.agents) {
        if (!plain_label(name)) {
            continue;
        }
        for (const auto& [outcome, count] : metrics.runs) {
            if (plain_label(outcome)) {
                agent_runs.emplace_back(label(name) + ",outcome=\"" + outcome + "\"",
                                        static_cast<double>(count));
            }
        }
        if (plain_label(metrics.last_outcome)) {
            last_outcome.emplace_back(label(name) + ",outcome=\"" + metrics.last_outcome + "\"", 1);
        }
        for (const ConfinementLevel level : {ConfinementLevel::off, ConfinementLevel::none,
                                             ConfinementLevel::partial, ConfinementLevel::full}) {
            if (!metrics.confinement.empty()) {
                confinement.emplace_back(label(name) + ",level=\"" + to_string(level) + "\"",
                                         metrics.confinement == to_string(level) ? 1 : 0);
            }
        }
    }
    out.family("fleet_dispatch_agent_runs_total", "counter",
               "Agent runs that ended, by outcome (status.json's words, or lost).", agent_runs);
    out.family("fleet_dispatch_agent_last_outcome", "gauge",
               "The outcome of the agent's last run: 1 on its outcome label.", last_outcome);
    out.family("fleet_dispatch_agent_confinement", "gauge",
               "The agent's confinement in its last run: 1 on its level label.", confinement);
}

std::string metrics_text(const MetricsState& state) {
    Exposition out;
    labelled_families(out, state);
    out.family("fleet_dispatch_agent_last_success_timestamp_seconds", "gauge",
               "When the agent's last successful run ended, as a Unix time.",
               per_agent(state, [](const AgentMetrics& m) { return m.last_success; }));
    out.family("fleet_dispatch_agent_last_end_timestamp_seconds", "gauge",
               "When the agent's last run ended, as a Unix time.",
               per_agent(state, [](const AgentMetrics& m) { return m.last_end; }));
    out.family("fleet_dispatch_agent_last_duration_seconds", "gauge",
               "How long the agent's last run took.",
               per_agent(state, [](const AgentMetrics& m) { return m.last_duration; }));
    out.family(
        "fleet_dispatch_agent_last_input_tokens", "gauge",
        "Input tokens the agent's last run reported.",
        per_agent(state, [](const AgentMetrics& m) { return as_double(m.last_input_tokens); }));
    out.family(
        "fleet_dispatch_agent_last_output_tokens", "gauge",
        "Output tokens the agent's last run reported.",
        per_agent(state, [](const AgentMetrics& m) { return as_double(m.last_output_tokens); }));
    out.family("fleet_dispatch_agent_last_cost_usd", "gauge",
               "The cost in US dollars the agent's last run reported.",
               per_agent(state, [](const AgentMetrics& m) { return m.last_cost_usd; }));
    out.family(
        "fleet_dispatch_agent_last_memory_peak_bytes", "gauge",
        "The peak memory of the agent's cgroup in its last run.",
        per_agent(state, [](const AgentMetrics& m) { return as_double(m.last_memory_peak); }));
    out.family("fleet_dispatch_agent_last_cpu_seconds", "gauge",
               "CPU time (user and system) of the agent's cgroup in its last run.",
               per_agent(state, [](const AgentMetrics& m) { return m.last_cpu_seconds; }));
    out.family("fleet_dispatch_agent_input_tokens_total", "counter",
               "Input tokens the agent's runs reported.",
               per_agent(state, [](const AgentMetrics& m) {
                   return std::optional<double>(static_cast<double>(m.input_tokens_total));
               }));
    out.family("fleet_dispatch_agent_output_tokens_total", "counter",
               "Output tokens the agent's runs reported.",
               per_agent(state, [](const AgentMetrics& m) {
                   return std::optional<double>(static_cast<double>(m.output_tokens_total));
               }));
    out.family("fleet_dispatch_agent_cost_usd_total", "counter",
               "The cost in US dollars the agent's runs reported.",
               per_agent(state, [](const AgentMetrics& m) {
                   return std::optional<double>(m.cost_usd_total);
               }));
    out.family("fleet_dispatch_agent_oom_kills_total", "counter",
               "Processes the OOM killer took from the agent's cgroups.",
               per_agent(state, [](const AgentMetrics& m) {
                   return std::optional<double>(static_cast<double>(m.oom_kills_total));
               }));
    out.family("fleet_dispatch_agent_limits_applied", "gauge",
               "Whether the agent's last run had its cgroup limits (1) or not (0).",
               per_agent(state, [](const AgentMetrics& m) { return as_double(m.limits_applied); }));
    return out.text();
}

Status check_metrics_file(const std::string& path) {
    const size_t slash = path.rfind('/');
    const std::string suffix = ".prom";
    if (path.empty() || path[0] != '/' || path.size() <= suffix.size() ||
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0 ||
        slash + 1 + suffix.size() >= path.size()) {
        return input_error("metrics_file '" + path +
                           "' must be an absolute path ending in .prom (the textfile "
                           "collector reads only those)");
    }
    const std::string dir = slash == 0 ? "/" : path.substr(0, slash);
    struct stat info {};
    if (::stat(dir.c_str(), &info) != 0) {
        return input_error("metrics_file: directory " + dir + ": " + std::strerror(errno));
    }
    if (!S_ISDIR(info.st_mode)) {
        return input_error("metrics_file: " + dir + " is not a directory");
    }
    return Ok{};
}

std::string record_run_metrics(const std::string& metrics_file, const std::string& runs_dir,
                               const RunStatus& status) {
    if (metrics_file.empty()) {
        return "";
    }
    const Fd runs(::open(runs_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    const Fd lock(runs.get() < 0 ? -1
                                 : ::openat(runs.get(), k_lock_name,
                                            O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (lock.get() < 0) {
        return system_error("open " + runs_dir + "/" + k_lock_name, errno).message;
    }
    if (const int err = lock_within(lock.get(), k_lock_wait); err != 0) {
        return system_error("lock " + runs_dir + "/" + k_lock_name, err).message;
    }
    std::string note;
    MetricsState state;
    struct stat info {};
    if (::fstatat(runs.get(), k_state_name, &info, AT_SYMLINK_NOFOLLOW) == 0) {
        const Result<std::string> text = read_file_at(runs.get(), k_state_name, k_max_state_bytes);
        Result<MetricsState> read = text ? metrics_state_from_json(*text) : text.error();
        if (read) {
            state = std::move(*read);
        } else {
            note = "metrics counters start again: " + read.error().message;
        }
    } else if (errno != ENOENT) {
        note = "metrics counters start again: " + system_error(k_state_name, errno).message;
    }
    count_run(state, status);
    if (Status kept = write_file_atomically(runs.get(), k_state_name, to_json(state)); !kept) {
        return "metrics state: " + kept.error().message;
    }
    const size_t slash = metrics_file.rfind('/');
    const std::string dir = slash == 0 ? "/" : metrics_file.substr(0, slash);
    const Fd out(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (out.get() < 0) {
        return system_error("metrics_file: directory " + dir, errno).message;
    }
    if (Status written = write_file_atomically(out.get(), metrics_file.substr(slash + 1),
                                               metrics_text(state), 0644);
        !written) {
        return "metrics_file " + metrics_file + ": " + written.error().message;
    }
    return note;
}

} // namespace fleet
