// Small file helpers for integration tests.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace fleet::test {

// The whole file, binary-safe; empty when it cannot be read.
std::string read_file(const std::string& path);

// Writes `text` and sets `mode`.
void write_file(const std::string& path, const std::string& text, mode_t mode);

// Host paths a suite puts in place where nothing stands yet (/etc/fleet-dispatch, a fixed
// policy), removed again newest first by put_back(): what was there before is never touched.
class PlacedPaths {
public:
    // Makes the directory when absent; whether it was made here.
    bool directory(const std::string& path);
    // Writes the file when absent; whether it was written here.
    bool file(const std::string& path, const std::string& text, mode_t mode);
    void put_back();

private:
    std::vector<std::string> m_made;
};

// A fresh directory /var/lib/fleet-<name>.XXXXXX, root's, 0755: every directory above it is
// root's and not group/other-writable, as the guard programs and sudo demand of what root runs.
// Throws std::runtime_error when it cannot be made.
std::string make_root_scratch(const std::string& name);

// Copies every file of `from` into `to` (made if missing), 0755: the fake agents, placed where
// a throwaway user may run them.
void copy_executables(const std::string& from, const std::string& to);

// The lines of `text`, without their newlines.
std::vector<std::string> lines_of(const std::string& text);

// Whether `pid` is a live process (not gone, not a zombie).
bool alive(pid_t pid);

// Whether `pid` is gone (or a zombie) within `seconds`: a killed process's exit takes a moment
// on a loaded machine, and an orphan waits for its new parent to reap it.
bool gone_within(pid_t pid, int seconds);

// Live (not zombie) processes started for a run: they carry its id in their environment
// (FLEET_DISPATCH_RUN_ID), whatever session or group they moved to.
std::vector<pid_t> survivors(const std::string& run_id);

// The id from dispatch's first output line, "run-id: <id>"; empty when it is not there.
std::string run_id_of(const std::string& out);

} // namespace fleet::test
