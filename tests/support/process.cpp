#include "support/process.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fleet::test {

namespace {

[[noreturn]] void child_fail(const char* what) {
    const std::string text =
        std::string("test runner: ") + what + ": " + std::strerror(errno) + "\n";
    [[maybe_unused]] ssize_t n = write(2, text.data(), text.size());
    _exit(121);
}

// The working directory of every process a test starts without asking for one: a fresh
// directory of this test process, removed when it exits, so nothing a command writes into its
// cwd lands in the source tree or the build directory. Root's and 0755: a command running as a
// test user can enter it but not write there.
class ScratchCwd {
public:
    ScratchCwd() {
        std::string pattern = "/tmp/fl-cwd-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr || ::chmod(pattern.c_str(), 0755) != 0) {
            throw std::runtime_error("scratch cwd " + pattern + ": " + std::strerror(errno));
        }
        m_path = pattern;
    }
    ~ScratchCwd() {
        std::error_code ignored;
        std::filesystem::remove_all(m_path, ignored);
    }
    ScratchCwd(const ScratchCwd&) = delete;
    ScratchCwd& operator=(const ScratchCwd&) = delete;
    const std::string& path() const { return m_path; }

private:
    std::string m_path;
};

const std::string& scratch_cwd() {
    static const ScratchCwd scratch;
    return scratch.path();
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
    std::vector<char*> result;
    result.reserve(strings.size() + 1);
    for (std::string& s : strings) {
        result.push_back(s.data());
    }
    result.push_back(nullptr);
    return result;
}

} // namespace

Started start(const std::vector<std::string>& argv, const RunOptions& options) {
    int out_pipe[2], err_pipe[2], in_pipe[2] = {-1, -1};
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
        (options.input && pipe2(in_pipe, O_CLOEXEC) != 0)) {
        throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    }
    std::vector<std::string> args = argv;
    std::vector<char*> arg_ptrs = pointers(args);
    std::vector<std::string> env_strings = options.env.value_or(std::vector<std::string>{});
    std::vector<char*> env_ptrs = pointers(env_strings);
    const std::string cwd = options.cwd.empty() ? scratch_cwd() : options.cwd;

    const pid_t pid = fork();
    if (pid < 0) {
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        int in_fd = in_pipe[0];
        if (!options.input) {
            in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        if (dup2(in_fd, 0) < 0 || dup2(out_pipe[1], 1) < 0 || dup2(err_pipe[1], 2) < 0) {
            child_fail("dup2");
        }
        // Nothing of the test runner's own (ctest's, gtest's) reaches the child unless asked.
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
            child_fail("close_range");
        }
        for (const auto& [from, to] : options.keep_fds) {
            if (dup2(from, to) < 0) { // dup2 clears FD_CLOEXEC on `to`
                child_fail("dup2 keep_fds");
            }
        }
        if (chdir(cwd.c_str()) != 0) {
            child_fail("chdir");
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        if (options.env) {
            execvpe(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
        } else {
            execvp(arg_ptrs[0], arg_ptrs.data());
        }
        child_fail(arg_ptrs[0]);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (options.input) {
        close(in_pipe[0]);
        const std::string& data = *options.input;
        size_t done = 0;
        while (done < data.size()) {
            const ssize_t n = write(in_pipe[1], data.data() + done, data.size() - done);
            if (n <= 0) {
                break; // the child closed stdin early: its problem to report
            }
            done += static_cast<size_t>(n);
        }
        close(in_pipe[1]);
    }

    Started started;
    started.pid = pid;
    started.out_fd = out_pipe[0];
    started.err_fd = err_pipe[0];
    started.timeout_seconds = options.timeout_seconds;
    return started;
}

ProcessResult finish(Started& started, const std::function<void(const std::string&)>& on_output) {
    const pid_t pid = started.pid;
    ProcessResult result;
    result.pid = pid;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(started.timeout_seconds);
    pollfd fds[2] = {{started.out_fd, POLLIN, 0}, {started.err_fd, POLLIN, 0}};
    std::string* sinks[2] = {&result.out, &result.err};
    int open_count = 2;
    bool killed = false;
    while (open_count > 0) {
        const int ready = poll(fds, 2, 200);
        if (ready < 0 && errno != EINTR) {
            throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
                char buffer[65536];
                const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
                if (n > 0) {
                    sinks[i]->append(buffer, static_cast<size_t>(n));
                    if (i == 0 && on_output) {
                        on_output(result.out);
                    }
                } else if (n == 0 || errno != EINTR) {
                    close(fds[i].fd);
                    fds[i].fd = -1;
                    --open_count;
                }
            }
        }
        if (!killed && std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            killed = true;
        }
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
        }
    }
    if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.signal = WTERMSIG(status);
    }
    return result;
}

ProcessResult run(const std::vector<std::string>& argv, const RunOptions& options) {
    Started started = start(argv, options);
    return finish(started);
}

ProcessResult run_words(const std::string& words, const RunOptions& options) {
    std::vector<std::string> argv;
    std::istringstream stream(words);
    for (std::string word; std::getline(stream, word, ' ');) {
        argv.push_back(word);
    }
    return run(argv, options);
}

std::string run_ok(const std::vector<std::string>& argv, const RunOptions& options) {
    ProcessResult result = run(argv, options);
    if (result.exit_code != 0) {
        std::string command;
        for (const std::string& arg : argv) {
            command += arg + " ";
        }
        throw std::runtime_error("'" + command + "' exited " + std::to_string(result.exit_code) +
                                 " (signal " + std::to_string(result.signal) + "): " + result.err);
    }
    return result.out;
}

} // namespace fleet::test
