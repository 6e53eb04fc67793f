// What dispatch prints on stderr when it fails: captured through a pipe on fd 2.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "dispatch/report.hpp"
#include "runner/status.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace {

// Runs `print` with stderr on a pipe; what it wrote.
template <typename Print>
std::string stderr_of(Print print) {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    const fleet::Fd read_end(fds[0]);
    const int saved = dup(2);
    dup2(fds[1], 2);
    close(fds[1]);
    print();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fleet::Result<std::string> text = fleet::read_fd(read_end.get(), 1 << 16);
    return text ? *text : "";
}

TEST(Report, OneEscapedLinePerFailure) {
    int code = 0;
    const std::string text =
        stderr_of([&] { code = fleet::fail(3, "agent said \x1b[2J\nforged"); });
    EXPECT_EQ(code, 3);
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
    EXPECT_EQ(text.rfind("dispatch: agent said ", 0), 0U) << text;
    EXPECT_EQ(text.find('\n'), text.size() - 1) << text; // one line
}

TEST(Report, TheErrorKindChoosesTheExitCode) {
    EXPECT_EQ(fleet::exit_code_for(fleet::input_error("no such task")), fleet::k_exit_usage);
    EXPECT_EQ(fleet::exit_code_for(fleet::system_error("mkdir", EACCES)), fleet::k_exit_setup);
    int code = 0;
    EXPECT_EQ(stderr_of([&] { code = fleet::fail(fleet::input_error("no such task")); }),
              "dispatch: no such task\n");
    EXPECT_EQ(code, 2);
}

} // namespace
