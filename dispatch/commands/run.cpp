#include "dispatch/commands/run.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "base/atomic_file.hpp"
#include "base/sha256.hpp"
#include "base/untrusted_text.hpp"
#include "dispatch/agents/agent_cli.hpp"
#include "dispatch/placeholders.hpp"
#include "dispatch/report.hpp"
#include "launch/environment.hpp"
#include "runner/capture.hpp"
#include "runner/proc.hpp"
#include "runner/supervisor.hpp"
#include "sys/child.hpp"
#include "sys/exec.hpp"
#include "sys/io.hpp"

extern char** environ; // NOLINT(readability-redundant-declaration)

namespace fleet {

namespace {

constexpr size_t k_max_prompt_bytes = 16 << 20;
// The final summary fits in SSM's 2,500-character console view, with room to spare.
constexpr size_t k_max_summary = 2000;
constexpr size_t k_max_summary_note = 60;

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

std::string hostname() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) {
        return "";
    }
    return name;
}

// --label pairs, plus ssm-command-id when SSM started the run (list --label filters on it).
std::map<std::string, std::string> labels_of(const RunArgs& args) {
    std::map<std::string, std::string> labels(args.labels.begin(), args.labels.end());
    if (const char* command = std::getenv("SSM_COMMAND_ID"); command != nullptr && *command) {
        labels.emplace("ssm-command-id", command);
    }
    return labels;
}

// --detach: the caller gets the run id and exit 0 once the run is registered; the run goes on
// in a child that leads its own session (so SSM's SIGKILL of the caller's process group cannot
// reach it), with stdin, stdout and stderr on /dev/null: its output goes only to the logs. The
// child keeps the run lock (flock belongs to the open file description, shared across fork) and
// writes a byte to `ready` once status.json names it, so `status`, `logs` and `cancel` right
// after --detach see the run. Returns the child's end of `ready` in the child; in the parent an
// invalid Fd, with `exit_code` set.
Fd detach_run(const std::string& run_id, int& exit_code) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        exit_code = fail(k_exit_setup, std::string("pipe2: ") + std::strerror(errno));
        return Fd();
    }
    Fd ready_read(fds[0]);
    Fd ready_write(fds[1]);
    const pid_t pid = ::fork();
    if (pid < 0) {
        exit_code = fail(k_exit_setup, std::string("fork: ") + std::strerror(errno));
        return Fd();
    }
    if (pid > 0) {
        ready_write.reset();
        char byte = 0;
        ssize_t n = 0;
        while ((n = ::read(ready_read.get(), &byte, 1)) < 0 && errno == EINTR) {
        }
        if (n != 1) {
            exit_code = fail(k_exit_setup, "the detached run " + run_id + " did not start");
            return Fd();
        }
        Console(1).write("run-id: " + run_id + "\n");
        exit_code = k_exit_ok;
        return Fd();
    }
    ready_read.reset();
    // The one child setup (sys/child.hpp), without an exec: the runner goes on in this child, so
    // its fds and signal handling stay.
    ChildSetup setup;
    setup.session = ChildSession::new_session;
    setup.stdio = {ChildSetup::k_null, ChildSetup::k_null, ChildSetup::k_null};
    setup.reset_signals = false;
    setup.cloexec_fds = false;
    if (apply_child_setup(setup).failed()) {
        ::_exit(k_exit_setup); // the parent reports it; the run shows "lost"
    }
    return ready_write;
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
        {"host", hostname()},
        {"started_at", started_at},
        {"version", FLEET_VERSION},
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

// What one agent will run: a built-in adapter's command or a generic command, placeholders
// filled in, environment and PATH built, program resolved.
AgentPlan plan_agent(const AgentConfig& agent, const RunDir& run, const Session& session,
                     const RunRequest& request, spdlog::logger& log) {
    AgentPlan plan;
    plan.name = agent.name;
    plan.timeout = agent.timeout;
    plan.artifact = request.artifact;
    if (agent.workdir.empty()) {
        const std::string name = "work-" + agent.name;
        if (::mkdirat(run.dir.get(), name.c_str(), 0700) != 0) {
            plan.launch_error = "create " + name + ": " + std::strerror(errno);
        }
        plan.workdir = run.path + "/" + name;
    } else {
        plan.workdir = agent.workdir;
        struct stat info {};
        if (::stat(agent.workdir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
            plan.launch_error = "workdir " + agent.workdir + " is not a directory";
        }
    }

    const std::string path = agent_path(session.config, session.identity.home);
    const std::string prompt_file = run.path + "/prompt.txt";
    EnvironmentRequest env_request;
    env_request.set.emplace_back("PATH", path);
    std::string program;
    if (agent.builtin) {
        const AgentCli& cli = *find_agent_cli(agent.name);
        const AgentCommand command = agent_command(cli, agent.model, agent.base_url, agent.args,
                                                   request.prompt, prompt_file);
        program = agent.binary.empty() ? agent.name : agent.binary;
        plan.args = command.args;
        plan.stdin_prompt = command.stdin_prompt;
        env_request.set.insert(env_request.set.end(), command.env.begin(), command.env.end());
        plan.judge = cli.read_outcome;
        if (cli.prepare_home != nullptr) {
            // As the user (the drop is done): the runner writes nothing of root's there.
            if (const std::string problem = cli.prepare_home(session.identity.home, agent.base_url);
                !problem.empty()) {
                log.warn("agent {}: {}", agent.name, problem);
            }
        }
    } else {
        const std::map<std::string, std::string> values = {
            {"prompt", request.prompt}, {"prompt_file", prompt_file}, {"run_id", run.id},
            {"run_dir", run.path},      {"workdir", plan.workdir},    {"task", request.task},
            {"agent", agent.name}};
        program = agent.command[0];
        for (size_t i = 1; i < agent.command.size(); ++i) {
            Result<std::string> arg = expand_placeholders(agent.command[i], values);
            plan.args.push_back(arg ? *arg : std::string());
        }
        plan.stdin_prompt = agent.stdin_prompt;
    }
    // Later entries win: the agent's env over the adapter's, secrets over both, markers last.
    env_request.set.insert(env_request.set.end(), agent.env.begin(), agent.env.end());
    env_request.set.insert(env_request.set.end(), agent.secret_env.begin(), agent.secret_env.end());
    env_request.set.emplace_back("FLEET_DISPATCH_RUN_ID", run.id);
    env_request.set.emplace_back("FLEET_DISPATCH_AGENT", agent.name);
    env_request.set.emplace_back("FLEET_DISPATCH_RUN_DIR", run.path);
    Result<std::vector<std::string>> env =
        build_environment(session.identity, environ, env_request);
    if (env) {
        plan.env = std::move(*env);
    } else if (plan.launch_error.empty()) {
        plan.launch_error = env.error().message;
    }

    plan.executable = resolve_program(program, path);
    if (plan.executable.empty() && plan.launch_error.empty()) {
        plan.launch_error = program + ": not found in PATH " + path;
        if (request.unified) {
            plan.launch_error_state = AgentState::skipped;
        }
    }
    return plan;
}

// One frame of the live display: a line per agent, redrawn in place (cursor up, clear line).
// Agent text is untrusted: it is escaped (untrusted_text.hpp), so it cannot move the cursor or
// retitle the operator's terminal.
class LiveDisplay {
public:
    void draw(const std::vector<LiveAgent>& agents) {
        winsize size{};
        const size_t columns =
            ::ioctl(1, TIOCGWINSZ, &size) == 0 && size.ws_col > 20 ? size.ws_col : 100;
        std::string frame;
        if (m_lines > 0) {
            frame += "\x1b[" + std::to_string(m_lines) + "A";
        }
        for (const LiveAgent& agent : agents) {
            char head[160];
            std::snprintf(head, sizeof head, "%-16.16s %-12s %6.1fs %10llu B  ", agent.name.c_str(),
                          to_string(agent.state),
                          std::chrono::duration<double>(agent.elapsed).count(),
                          static_cast<unsigned long long>(agent.bytes));
            std::string line = head + escape_untrusted(agent.last_line, LineBreaks::escaped);
            if (line.size() > columns - 1) {
                line.resize(columns - 1);
            }
            frame += "\x1b[2K" + line + "\n";
        }
        m_lines = agents.size();
        write_all(1, frame);
    }

private:
    size_t m_lines = 0;
};

std::string format_seconds(const std::string& from, const std::string& to) {
    WallTime start, end;
    if (!parse_timestamp(from, start) || !parse_timestamp(to, end)) {
        return "-";
    }
    const double seconds = std::chrono::duration<double>(end - start).count();
    char text[32];
    std::snprintf(text, sizeof text, "%.1fs", seconds);
    return text;
}

} // namespace

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

std::string agent_path(const Config& config, const std::string& home) {
    std::vector<std::string> dirs;
    for (const std::string& dir : config.path) {
        dirs.push_back(dir.rfind("~/", 0) == 0 ? home + dir.substr(1) : dir);
    }
    for (const std::string& dir : {home + "/.local/bin", home + "/.npm-global/bin",
                                   std::string("/usr/local/bin"), std::string("/snap/bin")}) {
        dirs.push_back(dir);
    }
    for (const std::string& dir : path_entries(default_path(home))) {
        dirs.push_back(dir);
    }
    std::string path;
    std::vector<std::string> seen;
    for (const std::string& dir : dirs) {
        if (std::find(seen.begin(), seen.end(), dir) == seen.end()) {
            seen.push_back(dir);
            path += (path.empty() ? "" : ":") + dir;
        }
    }
    return path;
}

std::string resolve_program(const std::string& program, const std::string& path) {
    if (program.find('/') == std::string::npos) {
        return find_in_path(program, path);
    }
    struct stat info {};
    if (::stat(program.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
        ::access(program.c_str(), X_OK) == 0) {
        return program;
    }
    return "";
}

std::string summary_text(const RunStatus& status) {
    // status.json is read back from a directory the agents could write: every text in it is
    // escaped on its way to the operator's terminal, one line per field.
    const auto safe = [](const std::string& text) {
        return escape_untrusted(text, LineBreaks::escaped);
    };
    std::string run_dir;
    if (!status.agents.empty()) {
        const std::string& log = status.agents.front().log;
        run_dir = safe(log.substr(0, log.rfind('/')));
    }
    std::string text = "\n== run " + safe(status.run_id) + ": " + to_string(status.state) +
                       " (exit " + std::to_string(status.exit_code.value_or(-1)) + "); logs in " +
                       run_dir + "\n";
    int width = 5;
    for (const AgentStatus& agent : status.agents) {
        width = std::min(40, std::max(width, static_cast<int>(safe(agent.name).size())));
    }
    size_t shown = 0;
    for (const AgentStatus& agent : status.agents) {
        const std::string outcome = agent.exit_code ? "exit " + std::to_string(*agent.exit_code)
                                    : agent.signal  ? "signal " + std::to_string(*agent.signal)
                                                    : "-";
        std::string note = agent.state == AgentState::succeeded ? "" : agent.reason;
        if (!agent.log_error.empty()) {
            note += (note.empty() ? "" : "; ") + agent.log_error;
        }
        note = note.size() > k_max_summary_note
                   ? safe(note.substr(0, k_max_summary_note - 3)) + "..."
                   : safe(note);
        char line[512];
        std::snprintf(line, sizeof line, "%-*.*s  %-12s %-10s %7s %10llu B%s%s\n", width, width,
                      safe(agent.name).c_str(), to_string(agent.state), outcome.c_str(),
                      format_seconds(agent.started_at, agent.finished_at).c_str(),
                      static_cast<unsigned long long>(agent.bytes), note.empty() ? "" : "  ",
                      note.c_str());
        // SSM's console shows 2,500 characters: the summary stays within k_max_summary.
        const std::string more = "... and " + std::to_string(status.agents.size() - shown) +
                                 " more agents: dispatch status " + safe(status.run_id) + "\n";
        if (text.size() + std::strlen(line) + more.size() > k_max_summary) {
            text += more;
            break;
        }
        text += line;
        ++shown;
    }
    return text;
}

int run_dispatch(const RunArgs& args, Session& session, const std::vector<std::string>& agents) {
    const Config& config = session.config;
    const auto task = config.tasks.find(args.task);
    if (task == config.tasks.end()) {
        return fail(k_exit_usage,
                    "unknown task '" + args.task + "' (known: " + known_names(config.tasks) + ")");
    }
    const std::vector<std::string>& agent_names = agents;
    Result<std::string> given = read_prompt(args);
    if (!given) {
        return fail(k_exit_usage, given.error().message);
    }
    if (is_blank(*given)) {
        return fail(k_exit_usage, "empty prompt");
    }
    Result<std::string> prompt =
        expand_placeholders(task->second.template_text, {{"prompt", *given}});
    if (!prompt) {
        return fail(k_exit_usage, "task " + args.task + ": " + prompt.error().message);
    }

    const RunStore store(session.runs_dir);
    if (Status exists = store.ensure_exists(); !exists) {
        return fail(k_exit_setup, exists.error().message);
    }
    const WallTime start = std::chrono::system_clock::now();
    Result<RunDir> run = store.create_run(start);
    if (!run) {
        return fail(k_exit_setup, run.error().message);
    }
    Result<Fd> lock = acquire_run_lock(run->dir.get());
    if (!lock) {
        return fail(k_exit_setup, lock.error().message);
    }
    const std::string started_at = format_timestamp(start);
    for (const auto& [name, content] :
         {std::pair{"prompt.txt", *prompt},
          std::pair{"run.json", run_json(*run, args, session, agent_names, *prompt, started_at)}}) {
        if (Status written = write_file_atomically(run->dir.get(), name, content); !written) {
            return fail(k_exit_setup, written.error().message);
        }
    }

    Fd detach_ready;
    if (args.detach) {
        int exit_code = 0;
        detach_ready = detach_run(run->id, exit_code);
        if (!detach_ready.valid()) {
            return exit_code;
        }
    }

    // The runner's own log: synchronous (no thread), header-only spdlog built with
    // SPDLOG_PREVENT_CHILD_FD so its fd is O_CLOEXEC (boost-process-v2.md §4).
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_st>(run->path + "/runner.log");
    // spdlog creates it with the umask; the process umask stays as it is because agents inherit
    // it into the trees they write.
    ::chmod((run->path + "/runner.log").c_str(), 0600);
    spdlog::logger log("dispatch", sink);
    log.set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
    log.flush_on(spdlog::level::info);
    log.info("run {} task {} agents {} as {} (uid {}), config {}", run->id, args.task,
             fmt::join(agent_names, ","), session.identity.name, session.identity.uid,
             config.source);

    Console console(1);
    if (!args.detach) {
        console.write("run-id: " + run->id + "\n");
    }

    RunStatus status;
    status.run_id = run->id;
    status.started_at = started_at;
    status.pid = ::getpid();
    status.pid_start = process_start_time(status.pid).value_or(0);
    status.labels = labels_of(args);
    const RunRequest request{args.task, *prompt, task->second.artifact, args.unified};
    std::vector<AgentPlan> plans;
    for (const std::string& name : agent_names) {
        plans.push_back(plan_agent(config.agents.at(name), *run, session, request, log));
        AgentStatus agent;
        agent.name = name;
        agent.log = run->path + "/" + name + ".log";
        status.agents.push_back(agent);
    }
    if (detach_ready.valid()) {
        // Registered: the caller may return now (see detach_run).
        if (Status written =
                write_file_atomically(run->dir.get(), "status.json", to_json(status, -1) + "\n");
            !written) {
            log.error("status.json: {}", written.error().message);
            return k_exit_setup;
        }
        write_all(detach_ready.get(), "1");
        detach_ready.reset();
    }
    // Under SSM (which keeps only the first 24,000 characters) the agents' stream would push
    // the summary out of view: there the default is the summary alone.
    const std::string console_mode = !args.console.empty()                      ? args.console
                                     : std::getenv("SSM_COMMAND_ID") != nullptr ? "summary"
                                                                                : "full";
    // On a terminal, several agents get a live display instead of interleaved lines
    // (`dispatch logs RUN -f` shows the raw stream).
    const bool live =
        console_mode == "full" && !args.json && agent_names.size() > 1 && ::isatty(1) == 1;
    SupervisorOptions options;
    options.console_fd = console_mode == "full" && !live ? 1 : -1;
    LiveDisplay display;
    if (live) {
        options.on_tick = [&display](const std::vector<LiveAgent>& now) { display.draw(now); };
    }
    options.max_parallel = config.max_parallel;
    options.run_timeout = args.timeout.value_or(config.timeout);
    options.grace = config.grace;
    options.prefix_output = agent_names.size() > 1;
    Supervisor supervisor(*run, std::move(status), std::move(plans), options, log);
    const int exit_code = supervisor.run();

    if (console_mode != "none") {
        console.write(args.json ? to_json(supervisor.status(), -1) + "\n"
                                : summary_text(supervisor.status()));
    }
    return exit_code;
}

} // namespace fleet
