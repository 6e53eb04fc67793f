// Reading a run's logs back (`dispatch logs`): once, or following them until the run ends, as
// the user the run belongs to. Each log is opened as io.hpp's open_regular_at does (a planted
// link is refused, a FIFO cannot block); a log not there yet (a pending agent) is waited for
// when following. With several agents, lines interleave as they arrive, "[agent] " first
// (capture.hpp ConsoleStream). When following, the run's state is read before each round of
// reading, so the last round, after the run ended, sees every byte; between rounds it sleeps
// `poll`.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "runner/capture.hpp"
#include "runner/run_store.hpp"
#include "sys/result.hpp"

namespace fleet {

struct FollowOptions {
    bool follow = false;
    std::optional<size_t> tail; // start at each log's last N lines
    std::chrono::milliseconds poll{200};
};

// Where the last `lines` lines of an open file start (0 when it has fewer).
off_t tail_offset(int fd, size_t lines);

// Copies the logs of `agents` of `run` to `console` until they end (or, following, until the
// run is no longer running and everything is read), or the console breaks.
Status copy_logs(const RunStore& store, const RunDir& run, const std::vector<std::string>& agents,
                 const FollowOptions& options, Console& console);

} // namespace fleet
