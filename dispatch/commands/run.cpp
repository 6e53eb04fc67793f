#include "dispatch/commands/run.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "base/atomic_file.hpp"
#include "base/probe.hpp"
#include "base/sha256.hpp"
#include "base/untrusted_text.hpp"
#include "dispatch/agent_access.hpp"
#include "dispatch/agent_plan.hpp"
#include "dispatch/agents/agent_cli.hpp"
#include "dispatch/placeholders.hpp"
#include "dispatch/report.hpp"
#include "dispatch/run_events.hpp"
#include "dispatch/run_metrics.hpp"
#include "dispatch/summary.hpp"
#include "launch/environment.hpp"
#include "runner/agent_repo.hpp"
#include "runner/capture.hpp"
#include "runner/proc.hpp"
#include "runner/supervisor.hpp"
#include "sys/child.hpp"
#include "sys/exec.hpp"
#include "sys/host.hpp"
#include "sys/io.hpp"
#include "sys/landlock.hpp"
#include "sys/version.hpp"

namespace fleet {

namespace {

constexpr size_t k_max_prompt_bytes = 16 << 20;

std::string known_names(const auto& map) {
    std::string names;
    for (const auto& [name, value] : map) {
        names += (names.empty() ? "" : ", ") + name;
    }
    return names.empty() ? "none configured" : names;
}

Result<std::string> read_prompt(const RunArgs& args) {
    if (args.prompt_file.empty()) {
        std::string prompt;
        for (const std::string& word : args.prompt_words) {
            prompt += (prompt.empty() ? "" : " ") + word;
        }
        return prompt;
    }
    if (args.prompt_file == "-") {
        Result<std::string> text = read_fd(0, k_max_prompt_bytes);
        if (!text) {
            return input_error("prompt from stdin: " + text.error().message);
        }
        return text;
    }
    // Read as the target user (the drop is done): a file the user cannot read is refused.
    const Fd fd(::open(args.prompt_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) {
        return input_error("prompt file " + args.prompt_file + ": " + std::strerror(errno));
    }
    Result<std::string> text = read_fd(fd.get(), k_max_prompt_bytes);
    if (!text) {
        return input_error("prompt file " + args.prompt_file + ": " + text.error().message);
    }
    return text;
}

bool is_blank(const std::string& text) {
    return text.find_first_not_of(" \t\r\n") == std::string::npos;
}

// --label pairs, plus ssm-command-id when SSM started the run (list --label filters on it).
std::map<std::string, std::string> labels_of(const RunArgs& args) {
    std::map<std::string, std::string> labels(args.labels.begin(), args.labels.end());
    if (const char* command = std::getenv("SSM_COMMAND_ID"); command != nullptr && *command) {
        labels.emplace("ssm-command-id", command);
    }
    return labels;
}

std::string run_json(const RunDir& run, const RunArgs& args, const Session& session,
                     const std::vector<std::string>& agents, const std::string& prompt,
                     const std::string& started_at) {
    nlohmann::json document = {
        {"run_id", run.id},
        {"task", args.task},
        {"agents", agents},
        {"user", session.identity.name},
        {"uid", session.identity.uid},
        {"host", host_name()},
        {"started_at", started_at},
        {"version", fleet::version()},
        {"config", session.config.source},
        {"prompt_bytes", prompt.size()},
        {"prompt_sha256", sha256_hex(prompt)},
        {"timeout", format_duration(args.timeout.value_or(session.config.timeout))},
    };
    document["labels"] = labels_of(args);
    for (const auto& [key, variable] : {std::pair{"ssm_command_id", "SSM_COMMAND_ID"},
                                        std::pair{"aws_ssm_instance_id", "AWS_SSM_INSTANCE_ID"}}) {
        if (const char* value = std::getenv(variable); value != nullptr && *value) {
            document[key] = value;
        }
    }
    return document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

} // namespace

bool confinement_required(const Config& config, const std::vector<std::string>& agents) {
    return std::any_of(agents.begin(), agents.end(), [&](const std::string& name) {
        return confine_mode(config, config.agents.at(name)) == ConfineMode::required;
    });
}

Result<std::vector<std::string>> choose_agents(const RunArgs& args, const Config& config) {
    std::vector<std::string> names = args.agents;
    if (names.empty() && !args.alias_agent.empty()) {
        names.push_back(args.alias_agent);
    }
    if (names.empty() && args.unified) {
        if (config.unified.empty()) {
            for (const AgentCli& cli : agent_clis()) {
                names.push_back(cli.name);
            }
        } else {
            names = config.unified;
        }
    }
    if (names.empty()) {
        names.push_back(config.default_agent);
    }
    for (const std::string& name : names) {
        if (config.agents.find(name) == config.agents.end()) {
            return input_error("unknown agent '" + name +
                               "' (known: " + known_names(config.agents) + ")");
        }
    }
    return names;
}

namespace {

// The prompt the agents get: the task's template around what was given (words or a file), and
// the first line given. Errors are usage errors.
Result<std::string> task_prompt(const RunArgs& args, const TaskConfig& task,
                                std::string& first_line) {
    Result<std::string> given = read_prompt(args);
    if (!given) {
        return given.error();
    }
    if (is_blank(*given)) {
        return input_error("empty prompt");
    }
    first_line = first_line_of(*given);
    Result<std::string> prompt = expand_placeholders(task.template_text, {{"prompt", *given}});
    if (!prompt) {
        return input_error("task " + args.task + ": " + prompt.error().message);
    }
    return prompt;
}

// A new run directory, locked (the lock held as long as `lock` lives), with its prompt.txt and
// run.json. Errors are setup errors.
Result<RunDir> create_run(const RunStore& store, const RunArgs& args, const Session& session,
                          const std::vector<std::string>& agents, const std::string& prompt,
                          WallTime start, Fd& lock) {
    if (Status exists = store.ensure_exists(); !exists) {
        return exists.error();
    }
    Result<RunDir> run = store.create_run(start);
    if (!run) {
        return run.error();
    }
    Result<Fd> locked = acquire_run_lock(run->dir.get());
    if (!locked) {
        return locked.error();
    }
    lock = std::move(*locked);
    const std::string json = run_json(*run, args, session, agents, prompt, format_timestamp(start));
    for (const auto& [name, content] :
         {std::pair{"prompt.txt", prompt}, std::pair{"run.json", json}}) {
        if (Status written = write_file_atomically(run->dir.get(), name, content); !written) {
            return written.error();
        }
    }
    return run;
}

// The runner's own log: synchronous (no thread), header-only spdlog built with
// SPDLOG_PREVENT_CHILD_FD so its fd is O_CLOEXEC (docs/design/boost-process.md §4). spdlog
// creates it with the umask; the process umask stays as it is because agents inherit it into
// the trees they write, so the file is made 0600 here.
spdlog::logger runner_log(const RunDir& run) {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_st>(run.path + "/runner.log");
    ::chmod((run.path + "/runner.log").c_str(), 0600);
    spdlog::logger log("dispatch", sink);
    log.set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
    log.flush_on(spdlog::level::info);
    return log;
}

// What the console shows, and how the supervisor is set for it. Under SSM (which keeps only
// the first 24,000 characters) the agents' stream would push the summary out of view: there
// the default is the summary alone. On a terminal, several agents get a live display instead
// of interleaved lines (`dispatch logs RUN -f` shows the raw stream).
struct ConsolePlan {
    std::string mode; // full, summary, none
    bool live = false;
};

ConsolePlan console_plan(const RunArgs& args, size_t agents) {
    ConsolePlan plan;
    plan.mode = !args.console.empty()                      ? args.console
                : std::getenv("SSM_COMMAND_ID") != nullptr ? "summary"
                                                           : "full";
    plan.live = plan.mode == "full" && !args.json && agents > 1 && ::isatty(1) == 1;
    return plan;
}

} // namespace

namespace {

// --repo PATH[@REF]: PATH as given when it is a directory, else split at the last '@' before
// which a directory ends (the longest such PATH; REF may hold '@': HEAD@{1}), else at the first.
std::pair<std::string, std::string> split_repo(const std::string& text) {
    struct stat info {};
    if (::stat(text.c_str(), &info) == 0) {
        return {text, ""};
    }
    for (size_t at = text.rfind('@'); at != std::string::npos && at > 0;
         at = text.rfind('@', at - 1)) {
        if (::stat(text.substr(0, at).c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
            return {text.substr(0, at), text.substr(at + 1)};
        }
    }
    const size_t at = text.find('@', 1);
    return at == std::string::npos ? std::pair{text, std::string()}
                                   : std::pair{text.substr(0, at), text.substr(at + 1)};
}

// Each agent's repository (--repo for every agent, else its config's), opened and its paths
// checked before anything is made: errors are usage errors.
Result<std::map<std::string, RepoSource>> open_repos(const RunArgs& args, const Session& session,
                                                     const std::vector<std::string>& agents) {
    std::map<std::string, RepoSource> repos;
    std::map<std::pair<std::string, std::string>, RepoSource> opened;
    for (const std::string& name : agents) {
        const AgentConfig& agent = session.config.agents.at(name);
        const std::pair<std::string, std::string> wanted =
            args.repo.empty() ? std::pair{agent.repo, agent.ref} : split_repo(args.repo);
        if (wanted.first.empty()) {
            continue;
        }
        auto found = opened.find(wanted);
        if (found == opened.end()) {
            Result<RepoSource> source = open_repo(wanted.first, wanted.second);
            if (!source) {
                return source.error();
            }
            // Its own directories: the origin's, and the objects its agents read (an objects
            // directory elsewhere, alternates).
            std::vector<std::string> own = source->trusted();
            const std::vector<std::string>& read = source->objects;
            own.insert(own.end(), read.begin(), read.end());
            if (Status allowed = check_repo_paths(wanted.first, read, own, session.config,
                                                  session.identity.home, session.runs_dir);
                !allowed) {
                return allowed.error();
            }
            note_uncommitted(*source);
            found = opened.emplace(wanted, std::move(*source)).first;
        }
        repos.emplace(name, found->second);
    }
    return repos;
}

// What status.json says of an agent's repository before it runs.
AgentRepo repo_record(const RepoSource& source, const std::string& branch) {
    AgentRepo record;
    record.origin = source.origin;
    record.ref = source.ref;
    record.base = source.base;
    record.branch = branch;
    record.note = source.note;
    return record;
}

// The agent's cgroup and OOM score (run_limits.hpp), or why it has no cgroup.
void limit_agent(AgentPlan& plan, const Config& config, const RunLimitsSetup& limits) {
    if (limits.cgroups) {
        plan.cgroup = &limits.cgroups->agents.at(plan.name);
        plan.limits = plan.cgroup->limits();
        return;
    }
    plan.limits.applied = false;
    plan.limits.not_applied = limits.record.mode == to_string(LimitsMode::off)
                                  ? "limits = \"off\""
                                  : limits.record.not_applied;
    plan.limits.oom_score_adj = config.oom_score_adj;
}

// Each agent's plan (its clone made, when it has a repository), and its pending status.
std::vector<AgentPlan> plan_agents(const std::vector<std::string>& agents, const RunDir& run,
                                   const Session& session, const RunRequest& request,
                                   const std::map<std::string, RepoSource>& repos,
                                   const RunLimitsSetup& limits, RunStatus& status,
                                   spdlog::logger& log) {
    std::vector<AgentPlan> plans;
    for (const std::string& name : agents) {
        const auto repo = repos.find(name);
        const RepoSource* source = repo == repos.end() ? nullptr : &repo->second;
        plans.push_back(
            plan_agent(session.config.agents.at(name), run, session, request, source, log));
        limit_agent(plans.back(), session.config, limits);
        AgentStatus agent;
        agent.name = name;
        agent.log = run.path + "/" + name + ".log";
        if (source != nullptr) {
            agent.repo =
                repo_record(*source, plans.back().launch_error.empty() ? plans.back().branch : "");
        }
        status.agents.push_back(agent);
    }
    return plans;
}

// confine = "required": every rule of the agent's set must be enforceable on this kernel.
Status check_required_confinement(const Config& config, const std::vector<std::string>& agents,
                                  int abi) {
    for (const std::string& name : agents) {
        const AgentConfig& agent = config.agents.at(name);
        AgentAccess wanted;
        wanted.mode = confine_mode(config, agent);
        wanted.tcp_connect = agent.tcp_connect;
        const Confinement reached = assess_confinement(wanted, abi);
        if (wanted.mode == ConfineMode::required && reached.level != ConfinementLevel::full) {
            return Error{ErrorKind::system, "agents." + name +
                                                ": confine = \"required\", but this kernel lacks " +
                                                reached.lacking};
        }
    }
    return Ok{};
}

// The run's start or end in the host's log (run_events.hpp); a failure is runner.log's alone.
void log_run_event(spdlog::logger& log, const Config& config, const LogEvent& event,
                   const RunnerProcess& runner) {
    const std::string failed = emit_run_event(config.run_events, event, runner.host_pid);
    if (!failed.empty()) {
        log.warn("run event not logged: {}", failed);
    }
}

// The run's end in the metrics file (run_metrics.hpp); a failure is runner.log's alone. The
// runs tree is the run directory's parent (run_store.hpp).
void log_run_metrics(spdlog::logger& log, const Config& config, const RunDir& run,
                     const RunStatus& status) {
    const std::string failed = record_run_metrics(
        config.metrics_file, std::filesystem::path(run.path).parent_path().string(), status);
    if (!failed.empty()) {
        log.warn("metrics: {}", failed);
    }
}

// The planned run, supervised to its end; then its end event (and the caller's process told
// it is logged: runner_process.hpp), then the console's end: the summary and the result line
// (summary.hpp), or with --json the status object. Returns the run's exit code.
int supervise(const RunArgs& args, const Config& config, RunDir& run, RunStatus status,
              std::vector<AgentPlan> plans, RunnerProcess& runner, const RunEventContext& context,
              int abi, Console& console, spdlog::logger& log) {
    const size_t agents = plans.size();
    const ConsolePlan shown = console_plan(args, agents);
    SupervisorOptions options;
    options.console_fd = shown.mode == "full" && !shown.live ? 1 : -1;
    LiveDisplay display;
    if (shown.live) {
        options.on_tick = [&display](const std::vector<LiveAgent>& now) { display.draw(now); };
    }
    options.landlock_abi = abi;
    options.max_parallel = config.max_parallel;
    options.run_timeout = args.timeout.value_or(config.timeout);
    options.grace = config.grace;
    options.prefix_output = agents > 1;
    Supervisor supervisor(run, std::move(status), std::move(plans), options, log);
    const int exit_code = supervisor.run();
    log_run_event(log, config,
                  run_end_event(supervisor.status(), context, std::chrono::system_clock::now()),
                  runner);
    log_run_metrics(log, config, run, supervisor.status());
    runner_run_ended(runner);
    if (shown.mode != "none") {
        console.write(args.json ? to_json(supervisor.status(), -1) + "\n"
                                : run_end_text(supervisor.status()));
    }
    return exit_code;
}

} // namespace

int run_dispatch(const RunArgs& args, Session& session, const std::vector<std::string>& agents,
                 RunnerProcess& runner) {
    const Config& config = session.config;
    const auto task = config.tasks.find(args.task);
    if (task == config.tasks.end()) {
        return fail(k_exit_usage,
                    "unknown task '" + args.task + "' (known: " + known_names(config.tasks) + ")");
    }
    std::string prompt_line;
    Result<std::string> prompt = task_prompt(args, task->second, prompt_line);
    if (!prompt) {
        return fail(k_exit_usage, prompt.error().message);
    }
    const Result<std::map<std::string, RepoSource>> repos = open_repos(args, session, agents);
    if (!repos) {
        return fail(k_exit_usage, repos.error().message);
    }
    const int abi = landlock_abi();
    if (Status confinable = check_required_confinement(config, agents, abi); !confinable) {
        return fail(k_exit_setup, confinable.error().message);
    }
    const RunStore store(session.runs_dir);
    const WallTime start = std::chrono::system_clock::now();
    Fd lock;
    Result<RunDir> run = create_run(store, args, session, agents, *prompt, start, lock);
    if (!run) {
        return fail(k_exit_setup, run.error().message);
    }
    spdlog::logger log = runner_log(*run);
    log.info("run {} task {} agents {} as {} (uid {}), config {}", run->id, args.task,
             fmt::join(agents, ","), session.identity.name, session.identity.uid, config.source);
    log.info("pid namespace: {}; Landlock ABI {}",
             runner.pid_namespace ? "yes" : "none (" + runner.no_namespace + ")", abi);
    Console console(1);
    if (!args.detach) {
        console.write("run-id: " + run->id + "\n");
    }

    RunStatus status;
    status.run_id = run->id;
    status.started_at = format_timestamp(start);
    status.pid = runner.host_pid;
    status.pid_start = process_start_time(::getpid()).value_or(0);
    status.pid_namespace = runner.pid_namespace;
    status.no_pid_namespace = runner.no_namespace;
    status.limits = runner.limits.record;
    status.labels = labels_of(args);
    const RunRequest request{args.task, *prompt, task->second.artifact, args.unified, prompt_line};
    std::vector<AgentPlan> plans =
        plan_agents(agents, *run, session, request, *repos, runner.limits, status, log);
    const RunEventContext context{args.task, session.identity.name, ""};
    log_run_event(log, config, run_start_event(status, context), runner);
    runner_run_started(runner, run->id, args.task,
                       args.json ? "json" : console_plan(args, agents.size()).mode);
    if (args.detach) {
        // Registered: the caller may return now (runner_process.hpp).
        if (Status written =
                write_file_atomically(run->dir.get(), "status.json", to_json(status, -1) + "\n");
            !written) {
            log.error("status.json: {}", written.error().message);
            status.state = state_for_exit_code(k_exit_setup);
            status.exit_code = k_exit_setup;
            log_run_event(log, config,
                          run_end_event(status, context, std::chrono::system_clock::now()), runner);
            log_run_metrics(log, config, *run, status);
            return k_exit_setup;
        }
        runner_registered(runner, run->id);
    }
    return supervise(args, config, *run, std::move(status), std::move(plans), runner, context, abi,
                     console, log);
}

} // namespace fleet
