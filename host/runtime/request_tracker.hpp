// request_tracker: the tickets of one worker. A request completes when every one of its keys
// has been answered; local keys are credited at once, remote answers as they arrive.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <unordered_map>

#include <gapm/types.hpp>

namespace gapm::detail {

/// Where ticket ids come from: one counter per node, so that an id never repeats, not even for
/// a worker registered again under the same worker id (a late answer to the old worker's
/// request must not complete, or write into, the new one's).
class ticket_source {
 public:
  [[nodiscard]] std::uint64_t next() noexcept { return next_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> next_{1};  // 0 is the local ticket
};

class request_tracker {
 public:
  explicit request_tracker(ticket_source& ids) : ids_{ids} {}

  /// A new request waiting for `keys` answers; with keys = 0, a complete (local) ticket.
  Ticket open(std::uint64_t keys);

  enum class credit { counted, unknown, excessive };
  /// Credits `keys` answers to request `id`: unknown for an id that is not waiting (a late
  /// answer to an abandoned request), excessive (nothing credited) for more keys than the
  /// request still waits for, which only a malformed answer can claim.
  credit answer(std::uint64_t id, std::uint64_t keys);
  /// Forgets a request that will not be answered in full (its sending failed): its ticket
  /// reads as finished and later answers to it are unknown.
  void abandon(std::uint64_t id);
  /// Makes every current and future wait throw `failure` (a dead peer, a shutdown).
  void fail(std::exception_ptr failure);

  [[nodiscard]] bool is_finished(Ticket ticket);
  void wait(Ticket ticket);
  void wait_all();
  [[nodiscard]] std::size_t outstanding();

 private:
  void throw_if_failed() const;

  ticket_source& ids_;
  std::mutex mutex_;
  std::condition_variable answered_;
  std::unordered_map<std::uint64_t, std::uint64_t> remaining_;  // id -> keys still unanswered
  std::exception_ptr failure_;
};

}  // namespace gapm::detail
