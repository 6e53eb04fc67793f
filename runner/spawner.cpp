#include "runner/spawner.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <boost/process/v2/default_launcher.hpp>
#include <boost/process/v2/process.hpp>

#include "sys/exec.hpp"

namespace fleet {

namespace {

namespace bp = boost::process::v2;
using boost::system::error_code;

error_code errno_code(int err) {
    return error_code(err, boost::system::system_category());
}

// Our initializer; see spawner.hpp for the sequence.
struct AgentSetup {
    const SpawnRequest* request;
    pid_t parent;

    template <typename Launcher, typename Path>
    error_code on_exec_setup(Launcher& /*launcher*/, const Path& /*executable*/,
                             const char* const* /*argv*/) const {
        if (::setsid() < 0) {
            return errno_code(errno);
        }
        if (!reset_signals()) {
            return errno_code(errno != 0 ? errno : EINVAL);
        }
        if (::prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(request->death_signal)) != 0) {
            return errno_code(errno);
        }
        if (::getppid() != parent) {
            return errno_code(ESRCH);
        }
        if (::dup2(request->stdin_fd, 0) < 0 || ::dup2(request->output_fd, 1) < 0 ||
            ::dup2(request->output_fd, 2) < 0) {
            return errno_code(errno);
        }
        if (::chdir(request->workdir.c_str()) != 0) {
            return errno_code(errno);
        }
        if (!mark_fds_cloexec(3)) {
            return errno_code(errno != 0 ? errno : EINVAL);
        }
        return {};
    }

    // Boost 1.81 detects the hook with this (mis-ordered, 5-argument) expression...
    template <typename Launcher, typename Path>
    void on_exec_error(Launcher& /*launcher*/, const error_code& ec, const Path& /*executable*/,
                       const char* const* /*argv*/, const error_code& /*again*/) const {
        ::_exit(ec.value() == EACCES ? 126 : 127);
    }
    // ...and calls it with this one.
    template <typename Launcher, typename Path>
    void on_exec_error(Launcher& /*launcher*/, const Path& /*executable*/,
                       const char* const* /*argv*/, const error_code& ec) const {
        ::_exit(ec.value() == EACCES ? 126 : 127);
    }
};

} // namespace

Result<pid_t> spawn(boost::asio::io_context& context, const SpawnRequest& request) {
    std::vector<const char*> env;
    env.reserve(request.env.size() + 1);
    for (const std::string& entry : request.env) {
        env.push_back(entry.c_str());
    }
    env.push_back(nullptr);

    bp::posix::default_launcher launcher;
    launcher.env = env.data();
    error_code ec;
    // Only the (executor, ec, …) overload: the (context, ec, …) one ignores ec in 1.81.
    auto process = launcher(context.get_executor(), ec, request.executable, request.args,
                            AgentSetup{&request, ::getpid()});
    if (ec) {
        return Error{ErrorKind::system,
                     "start " + request.executable + ": " + std::strerror(ec.value())};
    }
    const pid_t pid = process.id();
    process.detach();
    return pid;
}

} // namespace fleet
