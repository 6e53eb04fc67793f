#include "runner/spawner.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

// Boost.Process v2 on std::filesystem (BOOST_PROCESS_USE_STD_FS, runner/CMakeLists.txt): in
// Boost 1.81 that mode forgets headers Boost.Filesystem's brought along.
#include <type_traits>

#include <boost/io/quoted.hpp>
#include <boost/optional.hpp>
#include <boost/process/v2/default_launcher.hpp>
#include <boost/process/v2/process.hpp>

#include "runner/run_cgroups.hpp"
#include "sys/child.hpp"
#include "sys/landlock.hpp"

namespace fleet {

namespace {

namespace bp = boost::process::v2;
using boost::system::error_code;

error_code errno_code(int err) {
    return error_code(err, boost::system::system_category());
}

// Our initializer: the one child setup (sys/child.hpp), and its failure reported through our
// own pipe as well, since Boost's carries the errno alone.
struct AgentSetup {
    const ChildSetup* setup;
    const ChildErrorPipe* errors;

    template <typename Launcher, typename Path>
    error_code on_exec_setup(Launcher& /*launcher*/, const Path& /*executable*/,
                             const char* const* /*argv*/) const {
        const ChildFailure failed = apply_child_setup(*setup);
        if (failed.failed()) {
            errors->report(failed);
            return errno_code(failed.error);
        }
        return {};
    }

    // Boost 1.81 detects the hook with this (mis-ordered, 5-argument) expression...
    template <typename Launcher, typename Path>
    void on_exec_error(Launcher& /*launcher*/, const error_code& ec, const Path& /*executable*/,
                       const char* const* /*argv*/, const error_code& /*again*/) const {
        exec_failed(ec);
    }
    // ...and calls it with this one.
    template <typename Launcher, typename Path>
    void on_exec_error(Launcher& /*launcher*/, const Path& /*executable*/,
                       const char* const* /*argv*/, const error_code& ec) const {
        exec_failed(ec);
    }

    // The exec itself failed (the setup succeeded): reported, then _exit, so that no atexit
    // handler or stdio buffer of dispatch runs twice (pitfalls 2, 3).
    void exec_failed(const error_code& ec) const {
        errors->report(ChildFailure{ChildStep::exec, ec.value()});
        ::_exit(ec.value() == EACCES ? 126 : 127);
    }
};

} // namespace

int enter_agent_steps(const void* context) {
    const auto* steps = static_cast<const AgentSteps*>(context);
    if (const int error = join_cgroups(steps->cgroup_fds, steps->cgroup_count); error != 0) {
        return error;
    }
    return steps->landlock_fd >= 0 ? enter_landlock(&steps->landlock_fd) : 0;
}

Result<pid_t> spawn(boost::asio::io_context& context, const SpawnRequest& request) {
    std::vector<const char*> env;
    env.reserve(request.env.size() + 1);
    for (const std::string& entry : request.env) {
        env.push_back(entry.c_str());
    }
    env.push_back(nullptr);

    ChildSetup setup;
    setup.session = ChildSession::new_session;
    setup.death_signal = request.death_signal;
    setup.parent = ::getpid();
    setup.stdio = {request.stdin_fd, request.output_fd, request.output_fd};
    setup.workdir = request.workdir.c_str();
    AgentSteps steps;
    steps.cgroup_fds = request.cgroup_fds.data();
    steps.cgroup_count = request.cgroup_fds.size();
    steps.landlock_fd = request.landlock_fd;
    setup.hook = enter_agent_steps;
    setup.hook_context = &steps;
    ChildErrorPipe errors;
    if (!errors.valid()) {
        return system_error("pipe2", errors.error());
    }
    bp::posix::default_launcher launcher;
    launcher.env = env.data();
    error_code ec;
    // Only the (executor, ec, …) overload: the (context, ec, …) one ignores ec in 1.81.
    auto process = launcher(context.get_executor(), ec, request.executable, request.args,
                            AgentSetup{&setup, &errors});
    const ChildFailure failed = errors.collect();
    if (ec || failed.failed()) {
        const int error = failed.failed() ? failed.error : ec.value();
        return Error{ErrorKind::system, "start " + request.executable + ": " +
                                            child_step_name(failed.step) + ": " +
                                            std::strerror(error)};
    }
    const pid_t pid = process.id();
    process.detach();
    return pid;
}

} // namespace fleet
