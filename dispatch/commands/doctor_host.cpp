#include "dispatch/commands/doctor_host.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "base/probe.hpp"
#include "dispatch/run_limits.hpp"
#include "runner/run_cgroups.hpp"
#include "sys/cgroup.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace fleet {

namespace {

// The value of the last `key=` line of a unit's text (drop-ins come later and win).
std::optional<std::string> last_setting(const std::string& text, const std::string& key) {
    std::optional<std::string> value;
    const std::string prefix = key + "=";
    size_t pos = 0;
    while ((pos = text.find(prefix, pos)) != std::string::npos) {
        if (pos == 0 || text[pos - 1] == '\n') {
            const size_t end = text.find('\n', pos);
            value = text.substr(pos + prefix.size(), end == std::string::npos
                                                         ? std::string::npos
                                                         : end - pos - prefix.size());
        }
        pos += prefix.size();
    }
    return value;
}

} // namespace

std::string unit_text(const std::string& unit) {
    Result<ProbeResult> cat =
        probe_output({"systemctl", "cat", "--no-pager", unit}, {k_system_path}, k_probe_timeout);
    if (cat && cat->succeeded()) {
        return cat->output;
    }
    std::string text;
    for (const char* dir : {"/usr/lib/systemd/system/", "/lib/systemd/system/",
                            "/etc/systemd/system/", "/run/systemd/system/"}) {
        const Fd fd(::open((dir + unit).c_str(), O_RDONLY | O_CLOEXEC));
        if (Result<std::string> content =
                fd.valid() ? read_fd(fd.get(), 1 << 20) : Result<std::string>(std::string());
            content) {
            text += *content;
        }
    }
    if (text.empty()) {
        return text;
    }
    for (const char* dir : {"/usr/lib/systemd/system/", "/lib/systemd/system/",
                            "/etc/systemd/system/", "/run/systemd/system/"}) {
        std::error_code error;
        std::vector<std::string> dropins;
        for (const auto& entry :
             std::filesystem::directory_iterator(std::string(dir) + unit + ".d", error)) {
            if (entry.path().extension() == ".conf") {
                dropins.push_back(entry.path());
            }
        }
        std::sort(dropins.begin(), dropins.end());
        for (const std::string& dropin : dropins) {
            const Fd fd(::open(dropin.c_str(), O_RDONLY | O_CLOEXEC));
            if (Result<std::string> content =
                    fd.valid() ? read_fd(fd.get(), 1 << 20) : Result<std::string>(std::string());
                content) {
                text += "\n" + *content;
            }
        }
    }
    return text;
}

void check_ssm_agent(const Config& config, Report& report) {
    for (const char* unit :
         {"amazon-ssm-agent.service", "snap.amazon-ssm-agent.amazon-ssm-agent.service"}) {
        const std::string text = unit_text(unit);
        if (text.empty()) {
            continue;
        }
        const std::string restart = last_setting(text, "Restart").value_or("no");
        if (restart == "always") {
            report.add(Level::ok, "ssm-agent", std::string(unit) + " has Restart=always");
        } else {
            report.add(Level::fail, "ssm-agent",
                       std::string(unit) + " has Restart=" + restart +
                           ": a crashed agent stays down until someone reboots the host",
                       "install deploy/'s drop-in with Restart=always");
        }
        const std::string adjust = last_setting(text, "OOMScoreAdjust").value_or("0");
        const std::string agents = std::to_string(config.oom_score_adj);
        const bool below = std::strtol(adjust.c_str(), nullptr, 10) >= config.oom_score_adj;
        report.add(below ? Level::warn : Level::ok, "oom score",
                   std::string(unit) + " has OOMScoreAdjust=" + adjust +
                       ", which what it starts "
                       "inherits; agents get " +
                       agents +
                       (below ? ": not above it, the kernel may kill a service before an agent"
                              : ": under memory pressure the kernel takes an agent first"),
                   below ? "a higher oom_score_adj in the config" : "");
        return;
    }
    report.add(Level::ok, "ssm-agent", "no amazon-ssm-agent unit on this host");
    report.add(Level::ok, "oom score",
               "agents get oom_score_adj " + std::to_string(config.oom_score_adj));
}

namespace {

// A one-line description of what a run's cgroups would enforce.
std::string limits_text(const CgroupRequest& request) {
    std::string text = "memory_max " + format_bytes(request.run.memory_max.value_or(0)) +
                       ", pids_max " + std::to_string(request.run.pids_max.value_or(0));
    if (request.run.cpu_max) {
        text += ", cpu_max " + std::to_string(*request.run.cpu_max);
    }
    return text;
}

// The controllers a run would use in `layout`, as words.
std::string controllers_text(const CgroupLayout& layout) {
    std::string text;
    if (layout.mode == CgroupMode::unified) {
        for (const std::string& controller : layout.v2_controllers) {
            text += (text.empty() ? "" : " ") + controller;
        }
        return text.empty() ? "none enabled" : text;
    }
    for (const char* controller : {"memory", "pids", "cpu", "cpuacct", "freezer"}) {
        if (layout.v1(controller) != nullptr) {
            text += (text.empty() ? "v1 " : " ") + std::string(controller);
        }
    }
    return text + (layout.v2() != nullptr ? "; v2 for tracking and cgroup.kill" : "");
}

} // namespace

void check_limits(const Config& config, bool as_root, Report& report) {
    const Level short_of = config.limits == LimitsMode::required ? Level::fail : Level::warn;
    if (config.limits == LimitsMode::off) {
        report.add(Level::warn, "limits", "off: agents have no memory, process or CPU limit",
                   "remove limits = \"off\"");
        return;
    }
    struct stat info {};
    const bool systemd = ::stat("/run/systemd/system", &info) == 0;
    if (!systemd) {
        report.add(Level::ok, "systemd",
                   "not PID 1: runs make their cgroups beneath dispatch's own");
    } else if (::access("/usr/bin/busctl", X_OK) != 0) {
        report.add(short_of, "systemd",
                   "PID 1, but /usr/bin/busctl is missing: runs cannot get their delegated scope",
                   "install systemd's busctl (package systemd)");
    } else {
        report.add(Level::ok, "systemd",
                   "PID 1: each run gets a transient scope with Delegate=yes (/usr/bin/busctl); "
                   "doctor makes none itself, so the cgroups line below is not probed");
    }
    Result<CgroupLayout> layout = cgroup_layout();
    if (!layout || layout->mode == CgroupMode::none) {
        report.add(short_of, "cgroups",
                   layout ? "no cgroupfs on /sys/fs/cgroup" : layout.error().message,
                   "mount cgroupfs (a container: give it its cgroup namespace)");
        return;
    }
    const std::string mode =
        std::string(to_string(layout->mode)) + " (" + controllers_text(*layout) + ")";
    const CgroupRequest request = [&] {
        CgroupRequest probe = plan_limits(config, {}, mem_total());
        probe.name = "probe-" + std::to_string(::getpid());
        return probe;
    }();
    if (!as_root || systemd) {
        report.add(Level::ok, "cgroups", mode);
        return;
    }
    Result<RunCgroups> made = create_run_cgroups(*layout, request);
    if (!made) {
        report.add(short_of, "cgroups",
                   mode + ": a run cannot make its cgroups: " + made.error().message);
        return;
    }
    (void)remove_run_cgroups(made->dirs, std::chrono::seconds(1));
    report.add(Level::ok, "cgroups",
               mode + ": each run gets its limits (" + limits_text(request) + ")");
}

} // namespace fleet
