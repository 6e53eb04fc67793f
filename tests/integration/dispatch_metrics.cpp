// dispatch (dispatch_test suite): metrics_file, read back the way Prometheus does: Debian's
// prometheus-node-exporter on a loopback port, only its textfile collector, pointed at a
// root-owned collector directory whose fleet_dispatch.prom is a link to metrics_file, in a
// scratch directory the test user owns (the layout docs/dispatch.md gives); its /metrics
// fetched over HTTP.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "integration/dispatch_fixture.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

constexpr const char* k_exporter = "/usr/bin/prometheus-node-exporter";

// A loopback port nobody listens on now.
int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                       getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0;
    close(fd);
    return bound ? ntohs(address.sin_port) : -1;
}

class Metrics : public Dispatch {
protected:
    void SetUp() override {
        std::string pattern = s_dir + "/prom-XXXXXX";
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        m_dir = pattern;
        ASSERT_EQ(chown(m_dir.c_str(), s_uid, static_cast<gid_t>(-1)), 0);
        ASSERT_EQ(chmod(m_dir.c_str(), 0755), 0);
        m_file = m_dir + "/fleet_dispatch.prom";
        m_collector = m_dir + "-collector";
        ASSERT_EQ(mkdir(m_collector.c_str(), 0755), 0);
        ASSERT_EQ(symlink(m_file.c_str(), (m_collector + "/fleet_dispatch.prom").c_str()), 0);
        const std::string fail = "[agents.fail]\ncommand = [\"/bin/sh\", \"-c\", \"exit 3\"]\n";
        m_config = write_config("metrics.toml", fail, "metrics_file = \"" + m_file + "\"\n");
    }
    void TearDown() override {
        if (m_exporter.pid > 0) {
            kill(m_exporter.pid, SIGTERM);
            (void)fleet::test::finish(m_exporter);
        }
        if (m_dir.empty()) {
            return; // skipped
        }
        for (const char* name : {"metrics.json", "metrics.lock"}) {
            fs::remove(s_runs + "/" + name);
        }
        fs::remove_all(m_dir);
        fs::remove_all(m_collector);
    }

    // The exporter, as nobody, on a free loopback port: only the textfile collector.
    void start_exporter() {
        m_port = free_port();
        ASSERT_GT(m_port, 0);
        m_exporter = fleet::test::start({"setpriv", "--reuid=nobody", "--regid=nogroup",
                                         "--clear-groups", k_exporter,
                                         "--web.listen-address=127.0.0.1:" + std::to_string(m_port),
                                         "--collector.disable-defaults", "--collector.textfile",
                                         "--collector.textfile.directory=" + m_collector});
    }

    // GET /metrics, retried while the exporter comes up (at most 10 s).
    std::string scrape() const {
        const std::string url = "http://127.0.0.1:" + std::to_string(m_port) + "/metrics";
        for (int i = 0; i < 100; ++i) {
            const ProcessResult got = fleet::test::run(
                {"python3", "-c",
                 "import sys, urllib.request\n"
                 "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())",
                 url});
            if (got.exit_code == 0) {
                return got.out;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        ADD_FAILURE() << "no answer from " << url;
        return "";
    }

    static bool has_line(const std::string& text, const std::string& line) {
        return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
    }

    std::string m_dir, m_file, m_collector, m_config;
    int m_port = -1;
    fleet::test::Started m_exporter;
};

TEST_F(Metrics, TheExportersTextfileCollectorServesEveryRunsNumbers) {
    if (access(k_exporter, X_OK) != 0) {
        GTEST_SKIP() << k_exporter << " is not installed (dev/install-deps installs it)";
    }
    EXPECT_EQ(dispatch({"-a", "quick", "run", "x"}, {}, m_config).exit_code, 0);
    EXPECT_EQ(dispatch({"-a", "quick,fail", "run", "x"}, {}, m_config).exit_code, 1);
    struct stat info {};
    ASSERT_EQ(stat(m_file.c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, s_uid);
    EXPECT_EQ(info.st_mode & 07777, 0644U) << "the exporter runs as another user";
    EXPECT_EQ(std::distance(fs::directory_iterator(m_dir), fs::directory_iterator()), 1)
        << "no temp file left";

    EXPECT_NE(dispatch({"config"}, {}, m_config).out.find("\nmetrics_file = \"" + m_file + "\"\n"),
              std::string::npos);

    start_exporter();
    const std::string text = scrape();
    EXPECT_TRUE(has_line(text, "node_textfile_scrape_error 0")) << text;
    EXPECT_TRUE(has_line(text, "fleet_dispatch_runs_total{outcome=\"succeeded\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "fleet_dispatch_runs_total{outcome=\"failed\"} 1")) << text;
    EXPECT_TRUE(
        has_line(text, "fleet_dispatch_agent_runs_total{agent=\"quick\",outcome=\"succeeded\"} 2"))
        << text;
    EXPECT_TRUE(
        has_line(text, "fleet_dispatch_agent_runs_total{agent=\"fail\",outcome=\"failed\"} 1"))
        << text;
    EXPECT_TRUE(
        has_line(text, "fleet_dispatch_agent_last_outcome{agent=\"fail\",outcome=\"failed\"} 1"))
        << text;
    EXPECT_NE(text.find("fleet_dispatch_agent_last_success_timestamp_seconds{agent=\"quick\"} "),
              std::string::npos);
    EXPECT_EQ(text.find("fleet_dispatch_agent_last_success_timestamp_seconds{agent=\"fail\"}"),
              std::string::npos)
        << "it never succeeded";
    EXPECT_NE(text.find("fleet_dispatch_agent_last_duration_seconds{agent=\"fail\"} "),
              std::string::npos);
    EXPECT_NE(text.find("fleet_dispatch_agent_confinement{agent=\"quick\",level=\""),
              std::string::npos);
    EXPECT_NE(text.find("# TYPE fleet_dispatch_agent_runs_total counter"), std::string::npos);
}

// The counters are the state file's: one the user broke starts them again, and says so in
// runner.log; the run itself is not failed by it.
TEST_F(Metrics, ABrokenStateFileRestartsTheCounters) {
    EXPECT_EQ(dispatch({"-a", "quick", "run", "x"}, {}, m_config).exit_code, 0);
    const std::string state = s_runs + "/metrics.json";
    ASSERT_TRUE(fs::exists(state));
    fleet::test::write_file(state, "{\"version\": 1, \"runs\": \"many\"}", 0600);
    const ProcessResult next = dispatch({"-a", "quick", "run", "x"}, {}, m_config);
    EXPECT_EQ(next.exit_code, 0) << next.err;
    EXPECT_NE(fleet::test::read_file(run_dir(run_id_of(next.out)) + "/runner.log")
                  .find("metrics counters start again"),
              std::string::npos);
    EXPECT_TRUE(
        has_line(fleet::test::read_file(m_file),
                 "fleet_dispatch_agent_runs_total{agent=\"quick\",outcome=\"succeeded\"} 1"));
}

// A metrics directory that is not there is the config's one-line error, before anything runs.
TEST_F(Metrics, AMissingDirectoryIsAConfigError) {
    const std::string bad =
        write_config("metrics-bad.toml", "", "metrics_file = \"" + m_dir + "/gone/x.prom\"\n");
    const size_t runs = run_count();
    const ProcessResult result = dispatch({"-a", "quick", "run", "x"}, {}, bad);
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("metrics_file: directory " + m_dir + "/gone: No such file"),
              std::string::npos)
        << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_EQ(run_count(), runs) << "nothing ran";
    const std::string not_prom =
        write_config("metrics-txt.toml", "", "metrics_file = \"" + m_dir + "/x.txt\"\n");
    EXPECT_EQ(dispatch({"-a", "quick", "run", "x"}, {}, not_prom).exit_code, 2);
    EXPECT_EQ(dispatch({"-a", "quick", "run", "x"}, {}, m_config).exit_code, 0); // control
}

} // namespace
