// Basic vocabulary types of the public API: keys, clocks, tickets, streams.
#pragma once

#include <cstdint>
#include <limits>

namespace gapm {

/// A parameter id in [0, num_keys). The key space is the concatenation of the tables.
using key_type = std::uint64_t;

/// A worker's logical clock: starts at 0, advanced by Worker::advance_clock().
using clock_type = std::int64_t;

/// The end of a long-lived intent: intent(keys, n, 0, CLOCK_MAX) never expires on its own.
inline constexpr clock_type CLOCK_MAX = std::numeric_limits<clock_type>::max() - 1;

/// The clock a finished worker reads as: every intent has expired for it.
inline constexpr clock_type WORKER_FINISHED = std::numeric_limits<clock_type>::max();

/// Names one request of one worker. A default-constructed ticket (and the ticket of a
/// request served entirely from local memory) is always finished.
struct Ticket {
  std::uint64_t id = 0;
  [[nodiscard]] constexpr bool is_local() const noexcept { return id == 0; }
  friend constexpr bool operator==(Ticket, Ticket) = default;
};

/// Names one prepared sample (Worker::prepare_sample).
struct SampleId {
  std::uint64_t id = 0;
  friend constexpr bool operator==(SampleId, SampleId) = default;
};

/// A non-owning view of a CUDA stream, opaque so that the public headers are the same in
/// the CPU and the CUDA build. In the CUDA build it wraps a cudaStream_t; a default view is
/// the worker's own stream. In the CPU build only the default view is accepted.
class stream_view {
 public:
  constexpr stream_view() noexcept = default;
  /// Wraps a cudaStream_t given as an opaque pointer: stream_view{static_cast<void*>(s)}.
  explicit constexpr stream_view(void* cuda_stream) noexcept : handle_{cuda_stream} {}
  [[nodiscard]] constexpr void* handle() const noexcept { return handle_; }
  [[nodiscard]] constexpr bool is_default() const noexcept { return handle_ == nullptr; }

 private:
  void* handle_ = nullptr;
};

}  // namespace gapm
