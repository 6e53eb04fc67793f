#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>
#include <stdlib.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "base/system_log.hpp"
#include "support/files.hpp"
#include "sys/fd.hpp"

namespace fleet {
namespace {

// The lines of a journal datagram: every one must be NAME=VALUE with a name journald accepts.
std::vector<std::string> journal_lines(const std::string& datagram) {
    EXPECT_FALSE(datagram.empty());
    EXPECT_EQ(datagram.back(), '\n');
    return test::lines_of(datagram);
}

bool is_field_line(const std::string& line) {
    const size_t equals = line.find('=');
    return equals != std::string::npos && equals > 0 &&
           line.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == equals &&
           line[0] >= 'A' && line[0] <= 'Z';
}

LogEvent hostile_event() {
    LogEvent event;
    event.severity = Severity::warning;
    event.message = "run x end label=a\nFLEET_OUTCOME=succeeded\n<30>Jan  1 00:00:00 forged: x";
    event.fields = {{"FLEET_OUTCOME", "failed"},
                    {"FLEET_LABELS", "x=a\nFLEET_OUTCOME=succeeded\r\x1b[2J"}};
    event.fields[1].value += std::string(1, '\0') + "after a NUL";
    return event;
}

TEST(JournalDatagram, HasTheSyslogFieldsThenTheEventsThenTheMessage) {
    LogEvent event;
    event.severity = Severity::info;
    event.message = "run 20260109-190805-dztnfw start";
    event.fields = {{"FLEET_EVENT", "start"}, {"FLEET_RUN_ID", "20260109-190805-dztnfw"}};
    EXPECT_EQ(journal_datagram(event, "fleet-dispatch", 4242),
              "PRIORITY=6\nSYSLOG_FACILITY=3\nSYSLOG_IDENTIFIER=fleet-dispatch\nSYSLOG_PID=4242\n"
              "FLEET_EVENT=start\nFLEET_RUN_ID=20260109-190805-dztnfw\n"
              "MESSAGE=run 20260109-190805-dztnfw start\n");
}

// A newline in a value would end its field and start a forged one; a CR, ESC or NUL would
// reach whoever reads the journal. Each is text (\xNN), and the one field stays one.
TEST(JournalDatagram, AValueCannotForgeAField) {
    const std::string datagram = journal_datagram(hostile_event(), "fleet-dispatch", 7);
    std::multiset<std::string> names;
    for (const std::string& line : journal_lines(datagram)) {
        EXPECT_TRUE(is_field_line(line)) << line;
        names.insert(line.substr(0, line.find('=')));
    }
    EXPECT_EQ(names.count("FLEET_OUTCOME"), 1U) << datagram;
    EXPECT_EQ(names.count("MESSAGE"), 1U) << datagram;
    EXPECT_EQ(names.size(), 7U) << datagram;
    EXPECT_NE(datagram.find("FLEET_OUTCOME=failed\n"), std::string::npos);
    EXPECT_NE(datagram.find("FLEET_LABELS=x=a\\x0aFLEET_OUTCOME=succeeded\\x0d\\x1b[2J"),
              std::string::npos)
        << datagram;
    EXPECT_EQ(datagram.find('\0'), std::string::npos);
    EXPECT_EQ(datagram.find('\r'), std::string::npos);
    EXPECT_EQ(datagram.find('\x1b'), std::string::npos);
}

TEST(JournalDatagram, StaysWithinItsSizeKeepingTheFirstFields) {
    LogEvent event;
    event.message = std::string(5000, 'm');
    event.fields.push_back({"FLEET_RUN_ID", "20260109-190805-dztnfw"});
    for (int i = 0; i < 20; ++i) {
        event.fields.push_back({"FLEET_BIG_" + std::to_string(i), std::string(1000, 'v')});
    }
    const std::string datagram = journal_datagram(event, "fleet-dispatch", 1);
    EXPECT_LE(datagram.size(), k_max_log_datagram);
    EXPECT_NE(datagram.find("FLEET_RUN_ID=20260109-190805-dztnfw\n"), std::string::npos);
    EXPECT_NE(datagram.find("FLEET_BIG_0=" + std::string(k_max_log_field, 'v') + "\n"),
              std::string::npos)
        << "a field is cut, not dropped, while it fits";
    EXPECT_EQ(datagram.find("FLEET_BIG_19="), std::string::npos) << "what does not fit is left off";
    EXPECT_NE(datagram.find("MESSAGE=" + std::string(k_max_log_message, 'm') + "\n"),
              std::string::npos);
}

// Cut, a text stays UTF-8: never half a character.
TEST(LogText, CutsAtACharactersBoundary) {
    std::string accents;
    for (int i = 0; i < 100; ++i) {
        accents += "\xc3\xa9"; // é
    }
    EXPECT_EQ(log_text(accents, 11), std::string(accents, 0, 10));
    EXPECT_EQ(log_text("a\nb", 100), "a\\x0ab");
    EXPECT_EQ(log_text("plain", 100), "plain"); // the control
}

TEST(LogfmtValue, QuotesWhatCouldPoseAsAnotherKey) {
    EXPECT_EQ(logfmt_value("OPS-7"), "OPS-7");
    EXPECT_EQ(logfmt_value("a outcome=succeeded"), "\"a outcome=succeeded\"");
    EXPECT_EQ(logfmt_value("x=y"), "\"x=y\"");
    EXPECT_EQ(logfmt_value("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
    EXPECT_EQ(logfmt_value(""), "\"\"");
    EXPECT_EQ(logfmt_value("a\nb"), "a\\x0ab");
}

// The local form of RFC 3164, as glibc's syslog(3) writes it: no hostname.
TEST(SyslogDatagram, IsTheLocalFormWithoutNewline) {
    const char* old = std::getenv("TZ");
    const std::string saved = old == nullptr ? "" : old;
    ::setenv("TZ", "UTC0", 1);
    ::tzset();
    const WallTime when = WallTime(std::chrono::seconds(1767985685)); // 2026-01-09T19:08:05Z
    LogEvent event;
    event.severity = Severity::warning;
    event.message = "run 20260109-190805-dztnfw end outcome=failed exit=1";
    EXPECT_EQ(syslog_datagram(event, "fleet-dispatch", 4242, when),
              "<28>Jan  9 19:08:05 fleet-dispatch[4242]: run 20260109-190805-dztnfw end "
              "outcome=failed exit=1");
    const std::string hostile = syslog_datagram(hostile_event(), "fleet-dispatch", 1, when);
    EXPECT_EQ(hostile.find('\n'), std::string::npos) << hostile;
    EXPECT_EQ(hostile.rfind("<28>Jan  9 19:08:05 fleet-dispatch[1]: run x end label=a\\x0a", 0), 0U)
        << hostile;
    event.message = std::string(5000, 'm');
    EXPECT_LE(syslog_datagram(event, "fleet-dispatch", 1, when).size(), k_max_log_datagram);
    if (old == nullptr) {
        ::unsetenv("TZ");
    } else {
        ::setenv("TZ", saved.c_str(), 1);
    }
    ::tzset();
}

// A datagram socket bound at `path`, 0666, its reads bounded by a timeout.
class Receiver {
public:
    explicit Receiver(const std::string& path)
        : m_fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
        EXPECT_EQ(::bind(m_fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0)
            << std::strerror(errno);
        const timeval wait{0, 200000};
        ::setsockopt(m_fd.get(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    }
    // The next datagram, or "" after the timeout.
    std::string receive() const {
        char buffer[65536];
        const ssize_t n = ::recv(m_fd.get(), buffer, sizeof buffer, 0);
        return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
    }

private:
    Fd m_fd;
};

class SendLogEvent : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = "/tmp/fl-system-log-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        m_dir = pattern;
        m_sockets.journal = m_dir + "/journal";
        m_sockets.syslog = m_dir + "/log";
        m_event.message = "run x start";
        m_event.fields = {{"FLEET_EVENT", "start"}};
    }
    void TearDown() override { std::filesystem::remove_all(m_dir); }

    std::string m_dir;
    LogSockets m_sockets;
    LogEvent m_event;
};

TEST_F(SendLogEvent, GoesToTheJournalWhenItIsThere) {
    const Receiver journal(m_sockets.journal);
    const Receiver syslog(m_sockets.syslog);
    const LogOutcome outcome = send_log_event(m_event, "fleet-dispatch", 9, m_sockets);
    EXPECT_EQ(outcome.sink, LogSink::journal);
    EXPECT_EQ(journal.receive(), journal_datagram(m_event, "fleet-dispatch", 9));
    EXPECT_EQ(syslog.receive(), "") << "one event, one datagram";
}

TEST_F(SendLogEvent, ElseToSyslogElseNowhere) {
    {
        const Receiver syslog(m_sockets.syslog);
        const LogOutcome outcome = send_log_event(m_event, "fleet-dispatch", 9, m_sockets);
        EXPECT_EQ(outcome.sink, LogSink::syslog);
        const std::string line = syslog.receive();
        EXPECT_EQ(line.rfind("<30>", 0), 0U) << line;
        EXPECT_NE(line.find(" fleet-dispatch[9]: run x start"), std::string::npos) << line;
        // A journal path that is no socket (nobody bound there): ECONNREFUSED, the next one.
        test::write_file(m_sockets.journal, "", 0666);
        EXPECT_EQ(send_log_event(m_event, "fleet-dispatch", 9, m_sockets).sink, LogSink::syslog);
        EXPECT_NE(syslog.receive(), "");
    }
    std::filesystem::remove(m_sockets.syslog); // the socket's file outlives its receiver
    const LogOutcome nowhere = send_log_event(m_event, "fleet-dispatch", 9, m_sockets);
    EXPECT_EQ(nowhere.sink, LogSink::nowhere);
    EXPECT_EQ(nowhere.error, ENOENT);
}

// A journal that stops reading fills its queue: each send still returns at once (EAGAIN),
// and the event is lost rather than sent twice or waited for.
TEST_F(SendLogEvent, AFullReceiverNeverBlocks) {
    const Receiver journal(m_sockets.journal);
    const Receiver syslog(m_sockets.syslog);
    const auto start = std::chrono::steady_clock::now();
    LogOutcome outcome;
    for (int i = 0; i < 100000 && outcome.error != EAGAIN; ++i) {
        outcome = send_log_event(m_event, "fleet-dispatch", 9, m_sockets);
    }
    EXPECT_EQ(outcome.sink, LogSink::nowhere);
    EXPECT_EQ(outcome.error, EAGAIN);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
    EXPECT_EQ(syslog.receive(), "") << "a busy journal is no reason for a second copy";
    EXPECT_NE(journal.receive(), ""); // the control: what fitted arrived
}

} // namespace
} // namespace fleet
