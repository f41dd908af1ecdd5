// Thread names and CPU time per kind of thread. gapm names the threads it starts
// ("gapm-sync3", "gapm-receive", ...), so that Stats, `top -H` and `perf` can tell its own
// cost apart from the application's.
#pragma once

namespace gapm::detail {

/// Names the calling thread (Linux keeps the first 15 characters).
void name_this_thread(const char* name) noexcept;

/// CPU seconds (user + system) used so far, by the whole process and by the kinds of thread
/// gapm starts, read from /proc/self/task: threads of every node in this process count, and a
/// thread that has ended counts only in `process`. All zero where /proc cannot be read.
struct thread_cpu {
  double process = 0;
  double sync = 0;       ///< the sync channels ("gapm-sync*")
  double receive = 0;    ///< the receive loop ("gapm-receive")
  double liveness = 0;   ///< heartbeats ("gapm-liveness")
  double transport = 0;  ///< ZeroMQ's I/O threads ("ZMQbg/*") and the network model ("gapm-netmodel")
};
[[nodiscard]] thread_cpu measure_thread_cpu() noexcept;

}  // namespace gapm::detail
