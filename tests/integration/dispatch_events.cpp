// dispatch (dispatch_test suite): run events in the host's log, and the console's result line.
//
// The built dispatch runs in a private mount namespace (unshare -m) where the test's own
// datagram sockets stand at /run/systemd/journal/socket and /dev/log (bind mounts; where a path
// is missing, the nearest directory above it gets a tmpfs with what it held bound back, so the
// host's /dev and /run are never written), or where the journal's socket is a plain file
// (journald absent: /dev/log is the fallback). The host's own log sees none of it.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <memory>
#include <stdlib.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/dispatch_fixture.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

using fleet::test::lines_of;

// $1: the scratch directory (journal.sock, devlog.sock, not-a-socket); the rest: dispatch.
constexpr const char* k_place = R"sh(set -u
T=$1
shift
shadow() {
    keep=$(mktemp -d "$T/keep.XXXXXX") && mount --rbind "$1" "$keep" &&
        mount -t tmpfs -o mode=0755 tmpfs "$1" || return 1
    for entry in "$keep"/* "$keep"/.[!.]*; do
        [ -e "$entry" ] || [ -L "$entry" ] || continue
        name=${entry##*/}
        if [ -L "$entry" ]; then ln -s "$(readlink "$entry")" "$1/$name"
        elif [ -d "$entry" ]; then mkdir "$1/$name" && mount --rbind "$entry" "$1/$name"
        else : >"$1/$name" && mount --bind "$entry" "$1/$name"; fi || return 1
    done
}
place() {
    if [ -L "$2" ]; then set -- "$1" "$(readlink -m "$2")"; fi
    if [ ! -e "$2" ]; then
        top=$(dirname "$2")
        while [ ! -d "$top" ]; do top=$(dirname "$top"); done
        shadow "$top" && mkdir -p "$(dirname "$2")" && : >"$2" || return 1
    fi
    mount --bind "$1" "$2"
}
)sh";

// Where the events can go in a run's namespace.
enum class Logs {
    journal, // journald's socket and /dev/log both the test's: the journal must be chosen
    syslog,  // no journal (its path a plain file where it exists), /dev/log the test's
};

// A datagram socket the dropped user may write to, read without waiting for more.
class Receiver {
public:
    explicit Receiver(const std::string& path)
        : m_fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {
        EXPECT_GE(m_fd, 0) << std::strerror(errno);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
        EXPECT_EQ(bind(m_fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0)
            << path << ": " << std::strerror(errno);
        EXPECT_EQ(chmod(path.c_str(), 0666), 0);
    }
    ~Receiver() { close(m_fd); }
    Receiver(const Receiver&) = delete;
    Receiver& operator=(const Receiver&) = delete;

    // What arrives until there are `wanted` datagrams (or `seconds` have passed), and then
    // whatever else comes within 300 ms, so that an extra one is seen.
    std::vector<std::string> take(size_t wanted, int seconds = 5) const {
        std::vector<std::string> got;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
        bool settling = false;
        for (;;) {
            char buffer[65536];
            for (ssize_t n = 0; (n = recv(m_fd, buffer, sizeof buffer, 0)) > 0;) {
                got.emplace_back(buffer, static_cast<size_t>(n));
            }
            const auto now = std::chrono::steady_clock::now();
            if (!settling && got.size() >= wanted) {
                settling = true;
                deadline = now + std::chrono::milliseconds(300);
            }
            if (now >= deadline) {
                return got;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

private:
    int m_fd;
};

// A journal datagram's fields; a line that is no NAME=VALUE is a test failure.
std::multimap<std::string, std::string> fields_of(const std::string& datagram) {
    std::multimap<std::string, std::string> fields;
    for (const std::string& line : lines_of(datagram)) {
        const size_t equals = line.find('=');
        const bool named =
            equals != std::string::npos && equals > 0 &&
            line.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == equals;
        EXPECT_TRUE(named) << "not a field: " << line << "\nin:\n" << datagram;
        if (named) {
            fields.emplace(line.substr(0, equals), line.substr(equals + 1));
        }
    }
    return fields;
}

// The one value of `name`; a failure when it is missing or twice there.
std::string one(const std::multimap<std::string, std::string>& fields, const std::string& name) {
    EXPECT_EQ(fields.count(name), 1U) << name;
    const auto found = fields.find(name);
    return found == fields.end() ? "" : found->second;
}

class RunEvents : public Dispatch {
protected:
    void SetUp() override {
        std::string pattern = s_dir + "/events-XXXXXX";
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        m_dir = pattern;
        ASSERT_EQ(chmod(m_dir.c_str(), 0755), 0);
        write_file(m_dir + "/not-a-socket", "", 0666);
        m_journal = std::make_unique<Receiver>(m_dir + "/journal.sock");
        m_syslog = std::make_unique<Receiver>(m_dir + "/devlog.sock");
        if (s_events_config.empty()) {
            const std::string fail = "[agents.fail]\ncommand = [\"/bin/sh\", \"-c\", \"exit 3\"]\n";
            s_events_config = write_config("events.toml", fail);
            s_off_config = write_config("events-off.toml", fail, "run_events = \"off\"\n");
        }
    }
    void TearDown() override {
        m_journal.reset();
        m_syslog.reset();
        fs::remove_all(m_dir);
    }

    std::vector<std::string> argv(Logs logs, const std::vector<std::string>& args,
                                  const std::string& config = "") const {
        const std::string setup =
            logs == Logs::journal
                ? "place \"$T/journal.sock\" /run/systemd/journal/socket && "
                  "place \"$T/devlog.sock\" /dev/log || exit 99\n"
                : "{ [ ! -e /run/systemd/journal/socket ] || "
                  "mount --bind \"$T/not-a-socket\" /run/systemd/journal/socket; } && "
                  "place \"$T/devlog.sock\" /dev/log || exit 99\n";
        std::vector<std::string> line = {"/usr/bin/unshare",
                                         "-m",
                                         "--propagation",
                                         "private",
                                         "/bin/sh",
                                         "-c",
                                         std::string(k_place) + setup + "exec \"$@\"\n",
                                         "sh",
                                         m_dir,
                                         k_dispatch,
                                         "-c",
                                         config.empty() ? s_events_config : config};
        line.insert(line.end(), args.begin(), args.end());
        return line;
    }

    ProcessResult run(Logs logs, const std::vector<std::string>& args,
                      const std::string& config = "") const {
        ProcessResult result = fleet::test::run(argv(logs, args, config));
        EXPECT_NE(result.exit_code, 99) << "the namespace's setup failed: " << result.err;
        return result;
    }

    // The run's start and end in the journal, checked alike for every run.
    void expect_start_and_end(const std::vector<std::string>& got, const std::string& id,
                              const std::string& outcome, int exit_code) {
        ASSERT_EQ(got.size(), 2U) << "exactly a start and an end";
        const json status = status_json(id);
        const std::string pid = std::to_string(status["pid"].get<int>());
        const auto start = fields_of(got[0]);
        const auto end = fields_of(got[1]);
        for (const auto* fields : {&start, &end}) {
            EXPECT_EQ(one(*fields, "SYSLOG_IDENTIFIER"), "fleet-dispatch");
            EXPECT_EQ(one(*fields, "SYSLOG_FACILITY"), "3");
            EXPECT_EQ(one(*fields, "SYSLOG_PID"), pid) << "the runner, as the host sees it";
            EXPECT_EQ(one(*fields, "FLEET_RUN_ID"), id);
            EXPECT_EQ(one(*fields, "FLEET_USER"), s_user);
            EXPECT_EQ(fields->count("MESSAGE"), 1U);
        }
        EXPECT_EQ(one(start, "FLEET_EVENT"), "start");
        EXPECT_EQ(one(start, "PRIORITY"), "6");
        EXPECT_EQ(one(start, "MESSAGE").rfind("run " + id + " start task=run agents=", 0), 0U);
        EXPECT_EQ(start.count("FLEET_OUTCOME"), 0U);
        EXPECT_EQ(one(end, "FLEET_EVENT"), "end");
        EXPECT_EQ(one(end, "FLEET_OUTCOME"), outcome);
        EXPECT_EQ(one(end, "FLEET_EXIT_CODE"), std::to_string(exit_code));
        EXPECT_EQ(one(end, "PRIORITY"), outcome == "succeeded" ? "6" : "4");
        EXPECT_EQ(one(end, "MESSAGE")
                      .rfind("run " + id + " end outcome=" + outcome +
                                 " exit=" + std::to_string(exit_code) + " ",
                             0),
                  0U)
            << one(end, "MESSAGE");
    }

    // The console's last line: the result, as JSON.
    static json result_of(const ProcessResult& result) {
        const std::vector<std::string> lines = lines_of(result.out);
        EXPECT_FALSE(lines.empty());
        if (lines.empty()) {
            return json::object();
        }
        EXPECT_LE(lines.back().size() + 1, 500U);
        return json::parse(lines.back());
    }

    std::string m_dir;
    std::unique_ptr<Receiver> m_journal, m_syslog;
    static inline std::string s_events_config, s_off_config;
};

TEST_F(RunEvents, ASucceededAndAFailedRunEachLogAStartAndAnEndInTheJournal) {
    const ProcessResult ok = run(Logs::journal, {"-a", "quick", "run", "x"});
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    const std::string id = run_id_of(ok.out);
    expect_start_and_end(m_journal->take(2), id, "succeeded", 0);
    EXPECT_TRUE(m_syslog->take(0, 0).empty()) << "the journal was there: nothing to /dev/log";
    const json line = result_of(ok);
    EXPECT_EQ(line["run_id"], id);
    EXPECT_EQ(line["state"], "succeeded");
    EXPECT_EQ(line["exit_code"], 0);
    EXPECT_EQ(line["agents"], json::parse(R"([{"name":"quick","state":"succeeded"}])"));

    const ProcessResult failed = run(Logs::journal, {"-a", "quick,fail", "run", "x"});
    EXPECT_EQ(failed.exit_code, 1) << failed.err;
    const std::string failed_id = run_id_of(failed.out);
    const std::vector<std::string> got = m_journal->take(2);
    expect_start_and_end(got, failed_id, "failed", 1);
    ASSERT_EQ(got.size(), 2U);
    const auto end = fields_of(got[1]);
    EXPECT_EQ(one(end, "FLEET_AGENTS"), "quick,fail");
    EXPECT_EQ(one(end, "FLEET_AGENT_STATES"), "quick=succeeded fail=failed");
    EXPECT_EQ(result_of(failed)["agents"][1]["state"], "failed");
    EXPECT_EQ(result_of(failed)["more_agents"], 0);
}

// No journald: the same two events to /dev/log, one line each, with the runner's host pid.
TEST_F(RunEvents, WithoutAJournalTheyGoToDevLog) {
    const ProcessResult failed = run(Logs::syslog, {"-a", "fail", "run", "x"});
    EXPECT_EQ(failed.exit_code, 1) << failed.err;
    const std::string id = run_id_of(failed.out);
    const std::string pid = std::to_string(status_json(id)["pid"].get<int>());
    const std::vector<std::string> got = m_syslog->take(2);
    ASSERT_EQ(got.size(), 2U);
    const std::string head = " fleet-dispatch[" + pid + "]: run " + id;
    EXPECT_EQ(got[0].rfind("<30>", 0), 0U) << got[0]; // daemon.info
    EXPECT_NE(got[0].find(head + " start task=run agents=fail user=" + s_user), std::string::npos)
        << got[0];
    EXPECT_EQ(got[1].rfind("<28>", 0), 0U) << got[1]; // daemon.warning
    EXPECT_NE(got[1].find(head + " end outcome=failed exit=1 duration="), std::string::npos)
        << got[1];
    for (const std::string& datagram : got) {
        EXPECT_EQ(datagram.find('\n'), std::string::npos) << datagram;
    }
    EXPECT_TRUE(m_journal->take(0, 0).empty());
}

// A label and a prompt are the caller's: newlines in them forge no second field and no
// second line (the prompt never reaches the log at all). The control: a plain label is there.
TEST_F(RunEvents, AHostileLabelOrPromptAddsNoLineAndNoField) {
    const std::string label = "x=a\nFLEET_OUTCOME=succeeded\nMESSAGE=forged";
    const std::string prompt =
        "go\nFLEET_OUTCOME=succeeded\n<30>Jan  1 00:00:00 fleet-dispatch[1]: "
        "run forged-prompt end outcome=succeeded";
    for (const Logs logs : {Logs::journal, Logs::syslog}) {
        const ProcessResult result = run(logs, {"--label", label, "-a", "fail", "run", prompt});
        EXPECT_EQ(result.exit_code, 1) << result.err;
        const std::string id = run_id_of(result.out);
        const Receiver& receiver = logs == Logs::journal ? *m_journal : *m_syslog;
        const std::vector<std::string> got = receiver.take(2);
        if (logs == Logs::journal) {
            expect_start_and_end(got, id, "failed", 1);
            for (const std::string& datagram : got) {
                const auto fields = fields_of(datagram);
                EXPECT_LE(fields.count("FLEET_OUTCOME"), 1U);
                EXPECT_EQ(one(fields, "FLEET_LABELS"), "x=\"a\\\\x0aFLEET_OUTCOME=succeeded"
                                                       "\\\\x0aMESSAGE=forged\"");
            }
        } else {
            ASSERT_EQ(got.size(), 2U);
            for (const std::string& datagram : got) {
                EXPECT_EQ(datagram.find('\n'), std::string::npos) << datagram;
                EXPECT_NE(datagram.find(" label.x=\"a\\\\x0aFLEET_OUTCOME"), std::string::npos)
                    << datagram;
            }
        }
        for (const std::string& datagram : got) {
            EXPECT_EQ(datagram.find("forged-prompt"), std::string::npos) << datagram;
        }
    }
    const ProcessResult plain =
        run(Logs::journal, {"--label", "x=plain", "-a", "fail", "run", "go"});
    const std::vector<std::string> got = m_journal->take(2);
    expect_start_and_end(got, run_id_of(plain.out), "failed", 1);
    ASSERT_EQ(got.size(), 2U);
    EXPECT_EQ(one(fields_of(got[0]), "FLEET_LABELS"), "x=plain");
}

// run_events = "off": nothing reaches either socket; the control, the same run logged.
TEST_F(RunEvents, OffLogsNothing) {
    for (const Logs logs : {Logs::journal, Logs::syslog}) {
        const ProcessResult off = run(logs, {"-a", "quick", "run", "x"}, s_off_config);
        EXPECT_EQ(off.exit_code, 0) << off.err;
        EXPECT_TRUE(m_journal->take(1, 1).empty());
        EXPECT_TRUE(m_syslog->take(1, 1).empty());
        EXPECT_EQ(result_of(off)["state"], "succeeded") << "off is the log's, not the console's";
    }
    EXPECT_NE(dispatch({"config"}, {}, s_off_config).out.find("\nrun_events = \"off\"\n"),
              std::string::npos);
    const ProcessResult on = run(Logs::journal, {"-a", "quick", "run", "x"});
    expect_start_and_end(m_journal->take(2), run_id_of(on.out), "succeeded", 0);
}

TEST_F(RunEvents, AnUnknownSettingIsAConfigError) {
    const std::string bad = write_config("events-bad.toml", "", "run_events = \"journal\"\n");
    const ProcessResult result = dispatch({"-a", "quick", "run", "x"}, {}, bad);
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("run_events: must be \"syslog\" or \"off\""), std::string::npos)
        << result.err;
    EXPECT_EQ(dispatch({"-a", "quick", "run", "x"}, {}, s_off_config).exit_code, 0); // control
}

// A detached run: its runner writes both, after the caller has gone.
TEST_F(RunEvents, ADetachedRunLogsItsEndToo) {
    const ProcessResult sent = run(Logs::journal, {"--detach", "-a", "quick", "run", "x"});
    EXPECT_EQ(sent.exit_code, 0) << sent.err;
    const std::string id = run_id_of(sent.out);
    ASSERT_FALSE(id.empty()) << sent.out;
    EXPECT_EQ(dispatch({"wait", id}, {}, s_events_config).exit_code, 0);
    expect_start_and_end(m_journal->take(2), id, "succeeded", 0);
}

// The runner SIGKILLed: the caller's process, which sees every end, logs it as lost, with
// why, and the console's last line says so too.
TEST_F(RunEvents, AKilledRunnersEndIsLoggedByTheCaller) {
    pid_t caller = 0;
    const ProcessResult result =
        run_and_kill_the_runner(argv(Logs::journal, {"-a", "sleeper", "run", "x"}), &caller);
    EXPECT_EQ(result.exit_code, 3) << result.err;
    const std::string id = run_id_of(result.out);
    const std::vector<std::string> got = m_journal->take(2);
    ASSERT_EQ(got.size(), 2U);
    EXPECT_EQ(one(fields_of(got[0]), "FLEET_EVENT"), "start");
    const auto end = fields_of(got[1]);
    EXPECT_EQ(one(end, "FLEET_EVENT"), "end");
    EXPECT_EQ(one(end, "FLEET_RUN_ID"), id);
    EXPECT_EQ(one(end, "FLEET_OUTCOME"), "lost");
    EXPECT_EQ(one(end, "FLEET_EXIT_CODE"), "3");
    EXPECT_EQ(one(end, "PRIORITY"), "3");
    EXPECT_EQ(one(end, "SYSLOG_PID"), std::to_string(caller)) << "the caller's process";
    EXPECT_EQ(one(end, "FLEET_REASON"), "the runner ended with signal 9 (SIGKILL)");
    EXPECT_EQ(one(end, "FLEET_AGENTS"), "sleeper");
    const json line = result_of(result);
    EXPECT_EQ(line["run_id"], id);
    EXPECT_EQ(line["state"], "lost");
    EXPECT_EQ(line["exit_code"], 3);
}

} // namespace
