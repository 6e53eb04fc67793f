// doctor's report: the text lines and the JSON object, written to a pipe.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dispatch/commands/doctor_report.hpp"
#include "runner/status.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"
#include "sys/version.hpp"

namespace {

using nlohmann::json;

// What `fill` makes the report write, through a pipe.
template <typename Fill>
std::string output_of(fleet::ReportFormat format, Fill fill, int& exit_code) {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    const fleet::Fd read_end(fds[0]);
    {
        const fleet::Fd write_end(fds[1]);
        fleet::Report report(format, write_end.get());
        fill(report);
        exit_code = report.finish();
    }
    fleet::Result<std::string> text = fleet::read_fd(read_end.get(), 1 << 16);
    return text ? *text : "";
}

void three_findings(fleet::Report& report) {
    report.add(fleet::Level::ok, "config", "/etc/fleet-dispatch/config.toml");
    report.add(fleet::Level::warn, "groups", "ubuntu is in docker", "gpasswd -d ubuntu docker");
    report.add(fleet::Level::fail, "ownership", "not owned by ubuntu: /runs/index.json",
               "dispatch doctor --fix");
}

TEST(DoctorReport, TextIsOneLinePerFinding) {
    int code = -1;
    const std::string text = output_of(fleet::ReportFormat::text, three_findings, code);
    EXPECT_EQ(text, "ok   config        /etc/fleet-dispatch/config.toml\n"
                    "warn groups        ubuntu is in docker; fix: gpasswd -d ubuntu docker\n"
                    "fail ownership     not owned by ubuntu: /runs/index.json; fix: dispatch "
                    "doctor --fix\n");
    EXPECT_EQ(code, fleet::k_exit_agent_failed);
}

TEST(DoctorReport, JsonHasTheSameFindingsInOneLine) {
    int code = -1;
    const std::string text = output_of(fleet::ReportFormat::json, three_findings, code);
    EXPECT_EQ(code, fleet::k_exit_agent_failed);
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.find('\n'), text.size() - 1) << text; // one line, ended
    // The documented order, for whoever reads it in the journal: host first, the checks last.
    EXPECT_EQ(text.rfind("{\"host\":", 0), 0U) << text;
    EXPECT_LT(text.find("\"ok\":false,\"checks\":[{\"level\":\"ok\",\"check\":\"config\""),
              text.size())
        << text;
    const json document = json::parse(text);
    EXPECT_EQ(document["version"], fleet::version());
    EXPECT_TRUE(document["host"].is_string());
    EXPECT_EQ(document["ok"], false);
    ASSERT_EQ(document["checks"].size(), 3U);
    EXPECT_EQ(document["checks"][0], json({{"level", "ok"},
                                           {"check", "config"},
                                           {"message", "/etc/fleet-dispatch/config.toml"},
                                           {"fix", nullptr}}));
    EXPECT_EQ(document["checks"][1]["level"], "warn");
    EXPECT_EQ(document["checks"][1]["fix"], "gpasswd -d ubuntu docker");
    EXPECT_EQ(document["checks"][2]["level"], "fail");
    EXPECT_EQ(document["checks"][2]["check"], "ownership");
}

TEST(DoctorReport, WarningsAloneAreOk) {
    int code = -1;
    const std::string text = output_of(
        fleet::ReportFormat::json,
        [](fleet::Report& report) {
            report.add(fleet::Level::ok, "user", "ubuntu (uid 1000)");
            report.add(fleet::Level::warn, "limits", "off");
        },
        code);
    EXPECT_EQ(code, fleet::k_exit_ok);
    EXPECT_EQ(json::parse(text)["ok"], true);
    // Control: a report with nothing in it is ok too, with an empty list.
    const json empty = json::parse(fleet::report_json({}, "h", "v"));
    EXPECT_EQ(empty,
              json({{"host", "h"}, {"version", "v"}, {"ok", true}, {"checks", json::array()}}));
}

// What the host holds (a file name a user chose, a unit's text) is any bytes: the JSON stays
// valid ASCII, the dump never throws, and text that is valid UTF-8 comes back as it was.
TEST(DoctorReport, HostileBytesStayValidJson) {
    constexpr char k_hostile[] = "a\xff\xfe name\x1b[2J\n\"quoted\"\\ \0end";
    const std::string hostile(k_hostile, sizeof k_hostile - 1); // the NUL included
    const std::string name = "caf\xc3\xa9 \xe2\x9c\x93";
    std::string text;
    ASSERT_NO_THROW(text = fleet::report_json({{fleet::Level::fail, "ownership", hostile, ""},
                                               {fleet::Level::ok, "agent x", name, "fix \xc3"}},
                                              "host\xff", "v"));
    for (const char c : text) {
        EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "byte " << static_cast<int>(c) << " in " << text;
    }
    const json document = json::parse(text);
    const std::string message = document["checks"][0]["message"];
    EXPECT_NE(message.find("\xef\xbf\xbd"), std::string::npos); // U+FFFD for the bad bytes
    EXPECT_NE(message.find("name\x1b[2J\n\"quoted\"\\ "), std::string::npos) << message;
    EXPECT_EQ(message.substr(message.size() - 4), std::string("\0end", 4));
    EXPECT_EQ(document["checks"][1]["message"], name); // control: good UTF-8 kept whole
    EXPECT_EQ(document["host"], "host\xef\xbf\xbd");
}

// The text mode escapes the same bytes: one line, no control sequence.
TEST(DoctorReport, TextEscapesHostileBytes) {
    int code = -1;
    const std::string text = output_of(
        fleet::ReportFormat::text,
        [](fleet::Report& report) {
            report.add(fleet::Level::fail, "ownership", "x\x1b[2J\nforged ok line");
        },
        code);
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
    EXPECT_EQ(text.find('\n'), text.size() - 1) << text;
}

} // namespace
