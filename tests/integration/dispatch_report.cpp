// dispatch (dispatch_test suite): `dispatch report`, of this host's real runs and of a fleet
// generated from their lines (docs/watching-a-fleet.md's layouts), with hostile and cut-short
// runs among them; then the page rendered by a real browser, Debian's Chromium, headless, as
// the test user: no console message (its Content-Security-Policy logs anything the page would
// fetch or run), the DOM it built checked, and a screenshot kept in the build tree.
#include <map>
#include <pwd.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "integration/dispatch_fixture.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace {

constexpr const char* k_chromium = "/usr/bin/chromium";

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
        ++n;
    }
    return n;
}

class Report : public Dispatch {
protected:
    void SetUp() override {
        std::string pattern = s_dir + "/report-XXXXXX";
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        m_dir = pattern;
        ASSERT_EQ(chown(m_dir.c_str(), s_uid, static_cast<gid_t>(-1)), 0);
        ASSERT_EQ(chmod(m_dir.c_str(), 0755), 0);
    }
    void TearDown() override {
        std::error_code ignored; // a browser's helper still exiting must not throw here
        fs::remove_all(m_dir, ignored);
    }

    // This host's runs labelled suite=report, as report --json prints them: two real runs, one
    // that succeeded and one whose agent a signal killed.
    static std::vector<std::string> host_lines() {
        static std::map<std::string, std::vector<std::string>> of_user; // the suite's user's
        std::vector<std::string>& lines = of_user[s_user];
        if (lines.empty()) {
            EXPECT_EQ(dispatch({"-a", "quick", "--label", "suite=report", "run", "x"}).exit_code,
                      0);
            EXPECT_EQ(dispatch({"-a", "die-term", "--label", "suite=report", "run", "x"}).exit_code,
                      1);
            const ProcessResult got = dispatch({"report", "--json", "--label", "suite=report"});
            EXPECT_EQ(got.exit_code, 0) << got.err;
            lines = fleet::test::lines_of(got.out);
        }
        return lines;
    }

    // A fleet in m_dir/fleet: `hosts` hosts with this host's lines (the playbook's runs.jsonl),
    // one of them over SSM's layout, one whose log tail is hostile markup and one that sent
    // three runs that are no runs: cut short, the wrong types, a line over 1 MiB (the first and
    // the last name no run: one unreadable entry).
    std::string make_fleet(int hosts) const {
        std::string fleet = m_dir + "/fleet";
        const std::vector<std::string> lines = host_lines();
        const auto put = [&](const std::string& path, const std::string& text) {
            fs::create_directories(fs::path(fleet + "/" + path).parent_path());
            write_file(fleet + "/" + path, text, 0644);
        };
        for (int i = 0; i < hosts; ++i) {
            std::string text;
            for (const std::string& line : lines) {
                text += line + "\n";
            }
            put("web-" + std::to_string(i) + "/runs.jsonl", text);
        }
        json hostile = json::parse(lines.at(0));
        for (auto& [agent, tail] : hostile["log_tail"].items()) {
            tail = "fine\n<script>alert('agent')</script>\n<img src=x onerror=alert(2)>\n";
        }
        hostile["status"]["agents"][0]["reason"] = "<iframe src=\"https://example.com\">";
        put("0c1d2e-cmd/i-0123456789abcdef0/awsrunShellScript/0.awsrunShellScript/stdout",
            "a line the command printed\n" + hostile.dump() + "\n");
        json wrong = json::parse(lines.at(0));
        wrong["status"]["state"] = 42;
        put("bad-1/runs.jsonl", lines.at(0).substr(0, lines.at(0).size() / 2) + "\n" +
                                    wrong.dump() + "\n{\"run_id\":\"" + std::string(2 << 20, 'x') +
                                    "\"}\n");
        return fleet;
    }

    // dispatch report, run as the test user (it is one of the readers: session.hpp).
    std::string report(const std::vector<std::string>& args) const {
        std::vector<std::string> all = {"report", "-o", m_dir + "/report.html"};
        all.insert(all.end(), args.begin(), args.end());
        const ProcessResult got = dispatch(all);
        EXPECT_EQ(got.exit_code, 0) << got.err;
        return read_file(m_dir + "/report.html");
    }

    std::string m_dir;
};

TEST_F(Report, ThisHostsRunsBecomeAPageAndALineEach) {
    const std::vector<std::string> lines = host_lines();
    ASSERT_EQ(lines.size(), 2U) << "--label keeps this test's runs only";
    for (const std::string& line : lines) {
        const json run = json::parse(line);
        char host[256] = {};
        ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
        EXPECT_EQ(run["host"], host);
        EXPECT_TRUE(run["status"]["labels"]["suite"] == "report");
        EXPECT_TRUE(run["log_tail"].is_object());
    }
    const std::string page = report({"--label", "suite=report"});
    EXPECT_EQ(count(page, "<section class=\"run\""), 2U);
    EXPECT_NE(page.find(json::parse(lines[0])["run_id"].get<std::string>()), std::string::npos);
    EXPECT_NE(page.find("o-succeeded"), std::string::npos);
    struct stat info {};
    ASSERT_EQ(stat((m_dir + "/report.html").c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, s_uid) << "written as the user";
    EXPECT_EQ(info.st_mode & 07777, 0644U);
    EXPECT_EQ(count(report({"--label", "suite=none"}), "<section class=\"run"), 0U) << "control";
}

TEST_F(Report, AFetchedFleetWithHostileRunsIsReportedAndGoesOn) {
    const std::string fleet = make_fleet(4);
    const ProcessResult got = dispatch({"report", "--from", fleet, "-o", m_dir + "/fleet.html"});
    ASSERT_EQ(got.exit_code, 0) << got.err;
    EXPECT_EQ(got.err, "");
    const std::string page = read_file(m_dir + "/fleet.html");
    EXPECT_EQ(count(page, "<tr class=\"host\">"), 6U) << "web-0..3, the instance, bad-1";
    EXPECT_EQ(count(page, "<section class=\"run unreadable\""), 2U)
        << "the wrong types; the lines that name no run, as one";
    EXPECT_NE(page.find("2 lines of ./bad-1/runs.jsonl naming no run"), std::string::npos);
    EXPECT_NE(page.find("&lt;script&gt;alert(&#39;agent&#39;)&lt;/script&gt;"), std::string::npos);
    for (const char* markup : {"<script", "<img", "<iframe"}) {
        EXPECT_EQ(page.find(markup), std::string::npos) << markup;
    }
    EXPECT_NE(page.find(">i-0123456789abcdef0<"), std::string::npos);

    const ProcessResult lines = dispatch({"report", "--from", fleet, "--json"});
    ASSERT_EQ(lines.exit_code, 0) << lines.err;
    EXPECT_EQ(fleet::test::lines_of(lines.out).size(), 4U * 2 + 1 + 2) << "the runs, one a line";
}

TEST_F(Report, WhatCannotBeReadOrWrittenIsOneLineAndAnExitCode) {
    ProcessResult got = dispatch({"report", "--from", m_dir + "/none"});
    EXPECT_EQ(got.exit_code, 2);
    EXPECT_EQ(count(got.err, "\n"), 1U) << got.err;
    EXPECT_NE(got.err.find(m_dir + "/none: No such file or directory"), std::string::npos);
    got = dispatch({"report", "-o", m_dir + "/no-dir/report.html"});
    EXPECT_EQ(got.exit_code, 3);
    EXPECT_EQ(count(got.err, "\n"), 1U) << got.err;
    EXPECT_EQ(dispatch({"report", "--from", m_dir}).exit_code, 0) << "control: an empty fleet";
    EXPECT_FALSE(fs::exists(m_dir + "/no-dir"));
}

// Relative paths are the caller's directory's, not the target's home it reads from.
TEST_F(Report, RelativePathsAreTheCallersDirectorys) {
    make_fleet(2);
    RunOptions options;
    options.cwd = m_dir;
    const ProcessResult got = fleet::test::run(
        {k_dispatch, "-c", s_config, "report", "--from", "fleet", "-o", "relative.html"}, options);
    ASSERT_EQ(got.exit_code, 0) << got.err;
    EXPECT_EQ(count(read_file(m_dir + "/relative.html"), "<tr class=\"host\">"), 4U);
}

TEST_F(Report, ChromiumRendersTheFleetWithoutAConsoleMessage) {
    ASSERT_EQ(access(k_chromium, X_OK), 0) << "dev/install-deps installs chromium";
    const std::string page = m_dir + "/fleet.html";
    ASSERT_EQ(dispatch({"report", "--from", make_fleet(3), "-o", page}).exit_code, 0);
    const std::string artifacts = std::string(FLEET_ARTIFACT_DIR);
    fs::create_directories(artifacts);
    const std::string screenshot = m_dir + "/report.png";
    // As the test user, with a scratch profile; --no-sandbox: its sandbox needs namespaces a
    // chroot (make check-distros) may not give, and the page runs no script.
    const passwd* account = getpwuid(s_uid);
    ASSERT_NE(account, nullptr);
    const std::string gid = std::to_string(account->pw_gid);
    const auto chromium = [&](const std::string& what, const std::string& file) {
        return fleet::test::run({"setpriv", "--reuid=" + std::to_string(s_uid), "--regid=" + gid,
                                 "--clear-groups", "env", "HOME=" + m_dir, k_chromium, "--headless",
                                 "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                 "--disable-crash-reporter", "--disable-breakpad",
                                 "--user-data-dir=" + m_dir + "/profile", "--enable-logging=stderr",
                                 "--v=0", "--window-size=1280,2400", what, "file://" + file});
    };
    // The control: a page whose image the same policy blocks is a console message.
    const std::string blocked = m_dir + "/blocked.html";
    write_file(blocked,
               "<!DOCTYPE html><meta http-equiv=\"Content-Security-Policy\" "
               "content=\"default-src 'none'\"><img src=\"https://example.invalid/x.png\">",
               0644);
    const ProcessResult control = chromium("--dump-dom", blocked);
    ASSERT_EQ(control.exit_code, 0) << control.err;
    EXPECT_NE(control.err.find(":CONSOLE"), std::string::npos) << control.err;
    const ProcessResult dom = chromium("--dump-dom", page);
    ASSERT_EQ(dom.exit_code, 0) << dom.err;
    EXPECT_EQ(dom.err.find(":CONSOLE"), std::string::npos) << dom.err;
    // The DOM the browser built, counted by Python's HTML parser: elements by tag and class,
    // and the hostile line as text.
    const ProcessResult counted = fleet::test::run(
        {"python3", "-c",
         "import sys, html.parser, collections\n"
         "class P(html.parser.HTMLParser):\n"
         "    def __init__(self):\n"
         "        super().__init__(); self.n = collections.Counter(); self.text = []\n"
         "    def handle_starttag(self, tag, attrs):\n"
         "        self.n[tag] += 1\n"
         "        for c in (dict(attrs).get('class') or '').split(): self.n[tag + '.' + c] += 1\n"
         "    def handle_data(self, data): self.text.append(data)\n"
         "p = P(); p.feed(sys.stdin.read())\n"
         "for k in ['script', 'img', 'iframe', 'tr.host', 'svg.outcomes', 'rect.bar', "
         "'circle.dot', 'svg.cost', 'tr.usage', 'tr.confinement', 'section.run', "
         "'section.unreadable']: print(k, p.n[k])\n"
         "print('hostile-text', int(\"<script>alert('agent')</script>\" in ''.join(p.text)))\n"},
        [&] {
            fleet::test::RunOptions options;
            options.input = dom.out;
            return options;
        }());
    ASSERT_EQ(counted.exit_code, 0) << counted.err;
    for (const char* line :
         {"script 0\n", "img 0\n", "iframe 0\n", "tr.host 5\n", "svg.outcomes 2\n", "svg.cost 1\n",
          "section.run 9\n", "section.unreadable 2\n", "hostile-text 1\n"}) {
        EXPECT_NE(counted.out.find(line), std::string::npos) << line << counted.out;
    }
    for (const char* nonzero : {"rect.bar 0\n", "circle.dot 0\n", "tr.usage 0\n"}) {
        EXPECT_EQ(counted.out.find(nonzero), std::string::npos) << counted.out;
    }
    const ProcessResult shot = chromium("--screenshot=" + screenshot, page);
    ASSERT_EQ(shot.exit_code, 0) << shot.err;
    EXPECT_EQ(read_file(screenshot).substr(0, 8), "\x89PNG\r\n\x1a\n");
    fs::copy_file(screenshot, artifacts + "/report.png", fs::copy_options::overwrite_existing);
}

} // namespace
