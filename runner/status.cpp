#include "runner/status.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include <nlohmann/json.hpp>

namespace fleet {

namespace {

using nlohmann::json;

constexpr std::array<std::pair<RunState, const char*>, 6> k_run_states = {{
    {RunState::running, "running"},
    {RunState::succeeded, "succeeded"},
    {RunState::failed, "failed"},
    {RunState::timed_out, "timed_out"},
    {RunState::cancelled, "cancelled"},
    {RunState::lost, "lost"},
}};

constexpr std::array<std::pair<AgentState, const char*>, 8> k_agent_states = {{
    {AgentState::pending, "pending"},
    {AgentState::running, "running"},
    {AgentState::succeeded, "succeeded"},
    {AgentState::failed, "failed"},
    {AgentState::timed_out, "timed_out"},
    {AgentState::cancelled, "cancelled"},
    {AgentState::spawn_failed, "spawn_failed"},
    {AgentState::skipped, "skipped"},
}};

template <typename State, size_t N>
bool parse_state(const std::array<std::pair<State, const char*>, N>& table, const std::string& text,
                 State& out) {
    for (const auto& [state, name] : table) {
        if (text == name) {
            out = state;
            return true;
        }
    }
    return false;
}

json optional_int(const std::optional<int>& value) {
    return value ? json(*value) : json(nullptr);
}

std::optional<int> read_optional_int(const json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
        return std::nullopt;
    }
    return it->get<int>();
}

} // namespace

const char* to_string(RunState state) {
    for (const auto& [s, name] : k_run_states) {
        if (s == state) {
            return name;
        }
    }
    return "?";
}

const char* to_string(AgentState state) {
    for (const auto& [s, name] : k_agent_states) {
        if (s == state) {
            return name;
        }
    }
    return "?";
}

int fold_exit_code(const std::vector<AgentStatus>& agents) {
    bool cancelled = false, timed_out = false, failed = false;
    const bool all_skipped =
        !agents.empty() && std::all_of(agents.begin(), agents.end(), [](const AgentStatus& a) {
            return a.state == AgentState::skipped;
        });
    if (all_skipped) {
        return k_exit_agent_failed; // nothing ran at all
    }
    for (const AgentStatus& agent : agents) {
        cancelled = cancelled || agent.state == AgentState::cancelled;
        timed_out = timed_out || agent.state == AgentState::timed_out;
        failed =
            failed || agent.state == AgentState::failed || agent.state == AgentState::spawn_failed;
    }
    if (cancelled) {
        return k_exit_cancelled;
    }
    if (timed_out) {
        return k_exit_timed_out;
    }
    return failed ? k_exit_agent_failed : k_exit_ok;
}

RunState state_for_exit_code(int exit_code) {
    switch (exit_code) {
    case k_exit_ok:
        return RunState::succeeded;
    case k_exit_timed_out:
        return RunState::timed_out;
    case k_exit_cancelled:
        return RunState::cancelled;
    default:
        return RunState::failed;
    }
}

namespace {

json usage_json(const AgentUsage& usage) {
    json document = json::object();
    if (usage.input_tokens) {
        document["input_tokens"] = *usage.input_tokens;
    }
    if (usage.output_tokens) {
        document["output_tokens"] = *usage.output_tokens;
    }
    if (usage.cost_usd) {
        document["cost_usd"] = *usage.cost_usd;
    }
    if (usage.turns) {
        document["turns"] = *usage.turns;
    }
    return document;
}

void put_limits(json& object, const Limits& limits) {
    if (limits.memory_max) {
        object["memory_max"] = *limits.memory_max;
    }
    if (limits.pids_max) {
        object["pids_max"] = *limits.pids_max;
    }
    if (limits.cpu_max) {
        object["cpu_max"] = *limits.cpu_max;
    }
}

Limits get_limits(const json& object) {
    Limits limits;
    if (object.contains("memory_max")) {
        limits.memory_max = object.at("memory_max").get<uint64_t>();
    }
    if (object.contains("pids_max")) {
        limits.pids_max = object.at("pids_max").get<uint64_t>();
    }
    if (object.contains("cpu_max")) {
        limits.cpu_max = object.at("cpu_max").get<double>();
    }
    return limits;
}

json agent_limits_json(const AgentLimits& limits) {
    json object = {{"applied", limits.applied}, {"oom_score_adj", limits.oom_score_adj}};
    if (!limits.applied && !limits.not_applied.empty()) {
        object["reason"] = limits.not_applied;
    }
    put_limits(object, limits.limits);
    return object;
}

json resources_json(const AgentResources& used) {
    json object = {{"oom_kills", used.oom_kills}, {"pids_limit_hits", used.pids_limit_hits}};
    if (used.memory_peak) {
        object["memory_peak"] = *used.memory_peak;
    }
    if (used.cpu_seconds) {
        object["cpu_seconds"] = *used.cpu_seconds;
    }
    return object;
}

json run_limits_json(const RunLimits& limits) {
    json object = {{"mode", limits.mode}, {"applied", limits.applied}};
    if (!limits.cgroup_mode.empty()) {
        object["cgroup_mode"] = limits.cgroup_mode;
    }
    if (!limits.not_applied.empty()) {
        object["reason"] = limits.not_applied;
    }
    if (!limits.cgroup.empty()) {
        object["cgroup"] = limits.cgroup;
    }
    put_limits(object, limits.limits);
    return object;
}

json repo_json(const AgentRepo& repo) {
    json object = {{"origin", repo.origin}, {"ref", repo.ref}, {"base", repo.base}};
    for (const auto& [key, value] :
         {std::pair{"branch", &repo.branch}, std::pair{"commit", &repo.commit},
          std::pair{"patch", &repo.patch}, std::pair{"note", &repo.note},
          std::pair{"error", &repo.error}}) {
        if (!value->empty()) {
            object[key] = *value;
        }
    }
    if (repo.collected) {
        object["changed"] = repo.changed;
        object["files"] = repo.files;
        object["insertions"] = repo.insertions;
        object["deletions"] = repo.deletions;
        object["in_origin"] = repo.in_origin;
    }
    return object;
}

AgentRepo repo_from_json(const json& object) {
    AgentRepo repo;
    repo.origin = object.value("origin", "");
    repo.ref = object.value("ref", "");
    repo.base = object.value("base", "");
    repo.branch = object.value("branch", "");
    repo.commit = object.value("commit", "");
    repo.patch = object.value("patch", "");
    repo.note = object.value("note", "");
    repo.error = object.value("error", "");
    repo.collected = object.contains("changed");
    repo.changed = object.value("changed", false);
    repo.files = object.value("files", uint64_t{0});
    repo.insertions = object.value("insertions", uint64_t{0});
    repo.deletions = object.value("deletions", uint64_t{0});
    repo.in_origin = object.value("in_origin", false);
    return repo;
}

json agent_json(const AgentStatus& agent) {
    json entry = {
        {"name", agent.name},
        {"state", to_string(agent.state)},
        {"exit_code", optional_int(agent.exit_code)},
        {"signal", optional_int(agent.signal)},
        {"core_dumped", agent.core_dumped},
        {"started_at", agent.started_at.empty() ? json(nullptr) : json(agent.started_at)},
        {"finished_at", agent.finished_at.empty() ? json(nullptr) : json(agent.finished_at)},
        {"log", agent.log},
        {"bytes", agent.bytes},
        {"pid", agent.pid},
    };
    if (!agent.reason.empty()) {
        entry["reason"] = agent.reason;
    }
    if (!agent.log_error.empty()) {
        entry["log_error"] = agent.log_error;
    }
    if (!agent.artifact.empty()) {
        entry["artifact"] = agent.artifact;
    }
    if (!agent.usage.empty()) {
        entry["usage"] = usage_json(agent.usage);
    }
    if (agent.confinement) {
        entry["confinement"] = {{"level", to_string(agent.confinement->level)},
                                {"landlock_abi", agent.confinement->landlock_abi}};
        if (!agent.confinement->lacking.empty()) {
            entry["confinement"]["lacking"] = agent.confinement->lacking;
        }
    }
    if (agent.limits) {
        entry["limits"] = agent_limits_json(*agent.limits);
    }
    if (agent.resources) {
        entry["resources"] = resources_json(*agent.resources);
    }
    if (agent.repo) {
        entry["repo"] = repo_json(*agent.repo);
    }
    return entry;
}

} // namespace

std::string to_json(const RunStatus& status, int indent) {
    json agents = json::array();
    for (const AgentStatus& agent : status.agents) {
        agents.push_back(agent_json(agent));
    }
    json confinement = {{"pid_namespace", status.pid_namespace}};
    if (!status.pid_namespace && !status.no_pid_namespace.empty()) {
        confinement["reason"] = status.no_pid_namespace;
    }
    const json document = {
        {"run_id", status.run_id},
        {"state", to_string(status.state)},
        {"exit_code", optional_int(status.exit_code)},
        {"started_at", status.started_at},
        {"finished_at", status.finished_at.empty() ? json(nullptr) : json(status.finished_at)},
        {"pid", status.pid},
        {"pid_start", status.pid_start},
        {"labels", status.labels},
        {"confinement", std::move(confinement)},
        {"limits", run_limits_json(status.limits)},
        {"agents", std::move(agents)},
    };
    // ASCII only (\uXXXX), invalid UTF-8 replaced: a reason quoted from an agent's output can
    // hold C1 controls, which a terminal showing `status --json` must not receive raw.
    return document.dump(indent, ' ', true, json::error_handler_t::replace);
}

Result<CompactStatus> compact_status_json(const std::string& text, const std::string& run_id,
                                          bool runner_alive) {
    try {
        json document = json::parse(text);
        document["run_id"] = run_id;
        if (!runner_alive && document.at("state") == to_string(RunState::running)) {
            document["state"] = to_string(RunState::lost);
        }
        return CompactStatus{document.dump(-1, ' ', true, json::error_handler_t::replace),
                             document.value("started_at", "")};
    } catch (const nlohmann::json::exception& e) {
        return input_error(std::string("status.json: ") + e.what());
    }
}

namespace {

// One entry of "agents"; throws what nlohmann::json throws on a wrong type.
Result<AgentStatus> agent_from_json(const json& entry) {
    AgentStatus agent;
    agent.name = entry.at("name").get<std::string>();
    if (!parse_state(k_agent_states, entry.at("state").get<std::string>(), agent.state)) {
        return input_error("unknown agent state");
    }
    agent.exit_code = read_optional_int(entry, "exit_code");
    agent.signal = read_optional_int(entry, "signal");
    agent.core_dumped = entry.value("core_dumped", false);
    agent.reason = entry.value("reason", "");
    agent.started_at = entry.value("started_at", json()).is_string()
                           ? entry.at("started_at").get<std::string>()
                           : "";
    agent.finished_at = entry.value("finished_at", json()).is_string()
                            ? entry.at("finished_at").get<std::string>()
                            : "";
    agent.log = entry.value("log", "");
    agent.bytes = entry.value("bytes", 0ULL);
    agent.log_error = entry.value("log_error", "");
    agent.pid = entry.value("pid", 0);
    agent.artifact = entry.value("artifact", "");
    if (const auto confined = entry.find("confinement");
        confined != entry.end() && confined->is_object()) {
        agent.confinement =
            Confinement{confinement_level(confined->value("level", "")),
                        confined->value("landlock_abi", 0), confined->value("lacking", "")};
    }
    if (const auto limits = entry.find("limits"); limits != entry.end() && limits->is_object()) {
        agent.limits = AgentLimits{limits->value("applied", false), limits->value("reason", ""),
                                   get_limits(*limits), limits->value("oom_score_adj", 0)};
    }
    if (const auto used = entry.find("resources"); used != entry.end() && used->is_object()) {
        AgentResources resources;
        if (used->contains("memory_peak")) {
            resources.memory_peak = used->at("memory_peak").get<uint64_t>();
        }
        if (used->contains("cpu_seconds")) {
            resources.cpu_seconds = used->at("cpu_seconds").get<double>();
        }
        resources.oom_kills = used->value("oom_kills", uint64_t{0});
        resources.pids_limit_hits = used->value("pids_limit_hits", uint64_t{0});
        agent.resources = resources;
    }
    if (const auto repo = entry.find("repo"); repo != entry.end() && repo->is_object()) {
        agent.repo = repo_from_json(*repo);
    }
    if (const auto usage = entry.find("usage"); usage != entry.end() && usage->is_object()) {
        if (usage->contains("input_tokens")) {
            agent.usage.input_tokens = usage->at("input_tokens").get<uint64_t>();
        }
        if (usage->contains("output_tokens")) {
            agent.usage.output_tokens = usage->at("output_tokens").get<uint64_t>();
        }
        if (usage->contains("cost_usd")) {
            agent.usage.cost_usd = usage->at("cost_usd").get<double>();
        }
        if (usage->contains("turns")) {
            agent.usage.turns = usage->at("turns").get<int>();
        }
    }
    return agent;
}

} // namespace

Result<RunStatus> run_status_from_json(const std::string& text) {
    try {
        const json document = json::parse(text);
        RunStatus status;
        status.run_id = document.at("run_id").get<std::string>();
        if (!parse_state(k_run_states, document.at("state").get<std::string>(), status.state)) {
            return input_error("unknown run state");
        }
        status.exit_code = read_optional_int(document, "exit_code");
        status.started_at = document.at("started_at").get<std::string>();
        status.finished_at = document.value("finished_at", json()).is_string()
                                 ? document.at("finished_at").get<std::string>()
                                 : "";
        status.pid = document.value("pid", 0);
        status.pid_start = document.value("pid_start", 0ULL);
        if (const auto confined = document.find("confinement");
            confined != document.end() && confined->is_object()) {
            status.pid_namespace = confined->value("pid_namespace", false);
            status.no_pid_namespace = confined->value("reason", "");
        }
        if (const auto limits = document.find("limits");
            limits != document.end() && limits->is_object()) {
            status.limits.mode = limits->value("mode", "off");
            status.limits.cgroup_mode = limits->value("cgroup_mode", "");
            status.limits.applied = limits->value("applied", false);
            status.limits.not_applied = limits->value("reason", "");
            status.limits.cgroup = limits->value("cgroup", "");
            status.limits.limits = get_limits(*limits);
        }
        if (const auto labels = document.find("labels");
            labels != document.end() && labels->is_object()) {
            status.labels = labels->get<std::map<std::string, std::string>>();
        }
        for (const json& entry : document.at("agents")) {
            Result<AgentStatus> agent = agent_from_json(entry);
            if (!agent) {
                return agent.error();
            }
            status.agents.push_back(std::move(*agent));
        }
        return status;
    } catch (const nlohmann::json::exception& e) {
        return input_error(std::string("status.json: ") + e.what());
    }
}

} // namespace fleet
