// The fixture of the dispatch_test suite (dispatch_test.cpp, dispatch_io.cpp,
// dispatch_files.cpp, dispatch_events.cpp, dispatch_metrics.cpp): RunnerFixture's throwaway
// user and scratch directory, with fl-probe, the fake agents (shell scripts) and a config
// naming them all. Header-only: DISPATCH_PATH and FL_PROBE_PATH come from the suite's target.
#pragma once

#include <algorithm>
#include <cctype>
#include <csignal>
#include <filesystem>
#include <iterator>
#include <string>
#include <sys/stat.h>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/process.hpp"
#include "support/runner_fixture.hpp"

namespace fs = std::filesystem;
using fleet::test::ProcessResult;
using fleet::test::read_file;
using fleet::test::run_id_of;
using fleet::test::RunnerFixture;
using fleet::test::RunOptions;
using fleet::test::survivors;
using fleet::test::write_file;
using nlohmann::json;

inline const std::string k_dispatch = DISPATCH_PATH;

class Dispatch : public RunnerFixture {
protected:
    static void SetUpTestSuite() {
        set_up_runner("d", "dispatch");
        fs::copy_file(FL_PROBE_PATH, s_dir + "/fl-probe");
        chmod((s_dir + "/fl-probe").c_str(), 0755);
        const std::vector<std::pair<std::string, std::string>> scripts = {
            {"write-arg", "printf '%s' \"$1\" > arg.bin\n"},
            {"write-stdin", "cat > stdin.bin\n"},
            {"copy-file", "cp \"$1\" file.bin\n"},
            {"exit-with", "exit \"$1\"\n"},
            {"kill-self", "kill -\"$1\" $$\nsleep 5\n"},
            {"cat-file", "exec cat \"$1\"\n"},
            {"quick", "echo quick\n"},
            // What an agent can do to the files the runner reads after it (issue 14, item 11).
            {"fifo-artifact", "mkfifo blueprint.md\necho made a fifo\n"},
            {"fifo-log", "rm -f \"$FLEET_DISPATCH_RUN_DIR/claude.log\"\n"
                         "mkfifo \"$FLEET_DISPATCH_RUN_DIR/claude.log\"\n"},
            {"fifo-prompt", "rm -f \"$FLEET_DISPATCH_RUN_DIR/prompt.txt\"\n"
                            "mkfifo \"$FLEET_DISPATCH_RUN_DIR/prompt.txt\"\n"},
            {"rewrite-prompt", "printf 'forged\\n' > \"$FLEET_DISPATCH_RUN_DIR/prompt.txt\"\n"},
            {"background-holder", "sleep 30 &\necho done\n"},
            {"setsid-holder", "setsid sleep 123 &\necho started\n"},
            {"sleeper", "echo started\nexec sleep 30\n"},
            {"family-sleeper", "sleep 31 &\nsetsid sleep 32 &\necho started\nsleep 30\n"},
            {"big-output", "head -c 4194304 /dev/zero | tr '\\0' x\n"},
            // Fills its pipe in one write(2) (1 MiB, eight of the runner's reads) that ends with
            // a line, then waits (at most 20 s) for the line to reach its log: the runner must
            // read all of it while the agent still runs, with no write left to wake it.
            {"bulk-then-wait", "dd if=\"$2\" bs=1048576 count=1 status=none\ni=0\n"
                               "while [ $i -lt 200 ]; do\n"
                               "  grep -q MARKER \"$1/bulk-then-wait.log\" && exit 0\n"
                               "  sleep 0.1; i=$((i + 1))\ndone\nexit 3\n"},
        };
        for (const auto& [name, body] : scripts) {
            write_file(s_dir + "/" + name, "#!/bin/sh\n" + body, 0755);
        }
        std::string binary;
        for (int i = 0; i < (1 << 20); ++i) {
            binary.push_back(static_cast<char>((i * 7 + i / 256) & 0xff));
        }
        s_binary = binary;
        write_file(s_dir + "/binary.bin", binary, 0644);
        write_file(s_dir + "/marked.bin", std::string((1 << 20) - 7, 'x') + "MARKER\n", 0644);
        write_config("config.toml", "");
    }

    // A config for the test user with every fake agent, plus `extra` TOML.
    static std::string write_config(const std::string& name, const std::string& extra,
                                    const std::string& top = "") {
        const std::string d = s_dir;
        std::string text = "user = \"" + s_user + "\"\ngrace = \"1s\"\ntimeout = \"60s\"\n" + top +
                           "default_agent = \"quick\"\n";
        const auto agent = [&](const std::string& agent_name, const std::string& command,
                               const std::string& more = "") {
            text += "[agents." + agent_name + "]\ncommand = " + command + "\n" + more;
        };
        agent("quick", "[\"" + d + "/quick\"]");
        agent("fifo-artifact", "[\"" + d + "/fifo-artifact\"]");
        // Agents that change their run directory test the runner's own defences, which must
        // hold unconfined too (confine = "off"); confine_test shows a confined one cannot.
        agent("fifo-prompt", "[\"" + d + "/fifo-prompt\"]", k_unconfined);
        agent("rewrite-prompt", "[\"" + d + "/rewrite-prompt\"]", k_unconfined);
        agent("write-arg", "[\"" + d + "/write-arg\", \"{prompt}\"]");
        agent("write-stdin", "[\"" + d + "/write-stdin\"]", "stdin = \"prompt\"\n");
        agent("copy-file", "[\"" + d + "/copy-file\", \"{prompt_file}\"]");
        agent("cat-binary", "[\"" + d + "/cat-file\", \"" + d + "/binary.bin\"]");
        agent("cat-binary-2", "[\"" + d + "/cat-file\", \"" + d + "/binary.bin\"]");
        agent("background-holder", "[\"" + d + "/background-holder\"]");
        agent("setsid-holder", "[\"" + d + "/setsid-holder\"]");
        agent("sleeper", "[\"" + d + "/sleeper\"]");
        agent("family-sleeper", "[\"" + d + "/family-sleeper\"]");
        agent("short-timeout", "[\"" + d + "/family-sleeper\"]", "timeout = \"1s\"\n");
        agent("probe", "[\"" + d + "/fl-probe\"]", "env = { AGENT_SETTING = \"on\" }\n");
        agent("inject", "[\"" + d + "/fl-probe\", \"inject\"]");
        agent("big-output", "[\"" + d + "/big-output\"]");
        agent("bulk-then-wait",
              "[\"" + d + "/bulk-then-wait\", \"{run_dir}\", \"" + d + "/marked.bin\"]",
              k_unconfined); // it reads its own log
        agent("not-installed", "[\"no-such-agent-binary\"]");
        for (const char* sig : {"TERM", "KILL", "SEGV"}) {
            std::string agent_name = std::string("die-") + sig;
            std::transform(agent_name.begin(), agent_name.end(), agent_name.begin(), ::tolower);
            agent(agent_name, "[\"" + d + "/kill-self\", \"" + sig + "\"]");
        }
        text += extra;
        std::string path = s_dir + "/" + name;
        write_file(path, text, 0644);
        return path;
    }

    // Runs `argv` (a run of the "sleeper" agent) and SIGKILLs its runner once the agent has
    // said "started"; a failure when that never came. `caller`: the pid of the process started.
    static ProcessResult run_and_kill_the_runner(const std::vector<std::string>& argv,
                                                 pid_t* caller = nullptr) {
        fleet::test::Started started = fleet::test::start(argv);
        if (caller != nullptr) {
            *caller = started.pid;
        }
        bool sent = false;
        ProcessResult result = fleet::test::finish(started, [&](const std::string& out) {
            if (!sent && out.find("started\n") != std::string::npos) {
                const json status =
                    json::parse(read_file(run_dir(run_id_of(out)) + "/status.json"));
                kill(status["pid"].get<pid_t>(), SIGKILL);
                sent = true;
            }
        });
        EXPECT_TRUE(sent) << result.out;
        return result;
    }

    static size_t run_count() {
        if (!fs::exists(s_runs)) {
            return 0;
        }
        return static_cast<size_t>(
            std::distance(fs::directory_iterator(s_runs), fs::directory_iterator()));
    }

    static inline std::string s_binary;
    static constexpr const char* k_unconfined = "confine = \"off\"\n";
};
