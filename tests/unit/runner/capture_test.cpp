#include <cstdio>
#include <fcntl.h>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include "runner/capture.hpp"

namespace {

// A pipe whose read end collects what a Console wrote.
struct Sink {
    Sink() {
        int fds[2];
        EXPECT_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
        read_end = fleet::Fd(fds[0]);
        write_end = fleet::Fd(fds[1]);
    }
    std::string drain() {
        std::string text;
        char buffer[4096];
        ssize_t n = 0;
        while ((n = read(read_end.get(), buffer, sizeof buffer)) > 0) {
            text.append(buffer, static_cast<size_t>(n));
        }
        return text;
    }
    fleet::Fd read_end, write_end;
};

fleet::Fd temp_log(std::string& path) {
    char pattern[] = "/tmp/fl-capture-XXXXXX";
    const int fd = mkstemp(pattern);
    path = pattern;
    return fleet::Fd(fd);
}

std::string slurp(const std::string& path) {
    std::string text;
    FILE* file = std::fopen(path.c_str(), "rb");
    char buffer[4096];
    size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
        text.append(buffer, n);
    }
    std::fclose(file);
    return text;
}

TEST(AgentOutput, RawModeCopiesBytesToBoth) {
    Sink console_sink;
    fleet::Console console(console_sink.write_end.get());
    std::string path;
    fleet::AgentOutput output(temp_log(path), "");
    const std::string data("a\0b\nno newline", 14);
    output.consume(data, console);
    output.finish(console);
    EXPECT_EQ(slurp(path), data);
    EXPECT_EQ(console_sink.drain(), data);
    EXPECT_EQ(output.bytes(), data.size());
    std::remove(path.c_str());
}

TEST(AgentOutput, PrefixedModeWritesWholeLinesToTheConsoleOnly) {
    Sink console_sink;
    fleet::Console console(console_sink.write_end.get());
    std::string path;
    fleet::AgentOutput output(temp_log(path), "[a] ");
    output.consume("one\ntw", console);
    EXPECT_EQ(console_sink.drain(), "[a] one\n");
    output.consume("o\nthree", console);
    EXPECT_EQ(console_sink.drain(), "[a] two\n");
    output.finish(console);
    EXPECT_EQ(console_sink.drain(), "[a] three\n");
    EXPECT_EQ(slurp(path), "one\ntwo\nthree");
    std::remove(path.c_str());
}

TEST(AgentOutput, AClosedConsoleStopsConsoleOutputButNotTheLog) {
    Sink console_sink;
    fleet::Console console(console_sink.write_end.get());
    console_sink.read_end.reset(); // the reader went away: EPIPE (SIGPIPE is ignored in dispatch)
    signal(SIGPIPE, SIG_IGN);
    std::string path;
    fleet::AgentOutput output(temp_log(path), "");
    output.consume("first", console);
    output.consume("second", console);
    EXPECT_TRUE(console.broken());
    EXPECT_EQ(console.error(), EPIPE);
    EXPECT_EQ(slurp(path), "firstsecond");
    std::remove(path.c_str());
}

TEST(AgentOutput, TracksTheLastLineOnlyWhenAsked) {
    Sink console_sink;
    fleet::Console console(console_sink.write_end.get());
    std::string path;
    fleet::AgentOutput tracked(temp_log(path), "", fleet::TrackLastLine::yes);
    tracked.consume("first\nsec", console);
    EXPECT_EQ(tracked.last_line(), "sec");
    tracked.consume("ond line\n", console); // a line split across chunks
    EXPECT_EQ(tracked.last_line(), "second line");
    tracked.consume("\n\n", console); // blank lines keep the last real one
    EXPECT_EQ(tracked.last_line(), "second line");
    std::remove(path.c_str());
    // Control: not asked, it remembers nothing (and scans nothing).
    fleet::AgentOutput untracked(temp_log(path), "");
    untracked.consume("a line\n", console);
    EXPECT_EQ(untracked.last_line(), "");
    std::remove(path.c_str());
}

TEST(AgentOutput, AFailingLogIsReportedOnceAndTheConsoleGoesOn) {
    Sink console_sink;
    fleet::Console console(console_sink.write_end.get());
    // /dev/full: every write fails with ENOSPC.
    fleet::AgentOutput output(fleet::Fd(open("/dev/full", O_WRONLY | O_CLOEXEC)), "");
    EXPECT_TRUE(output.consume("one", console));
    EXPECT_FALSE(output.consume("two", console));
    EXPECT_NE(output.log_error().find("No space"), std::string::npos);
    EXPECT_EQ(output.bytes(), 0U);
    EXPECT_EQ(console_sink.drain(), "onetwo");
}

} // namespace
