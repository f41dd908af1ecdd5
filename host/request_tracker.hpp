// request_tracker: the tickets of one worker. A request completes when every one of its keys
// has been answered; local keys are credited at once, remote answers as they arrive.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <unordered_map>

#include <gapm/types.hpp>

namespace gapm::detail {

class request_tracker {
 public:
  /// A new request waiting for `keys` answers; with keys = 0, a complete (local) ticket.
  Ticket open(std::uint64_t keys);
  /// Credits `keys` answers to request `id`; unknown ids are ignored (a late duplicate).
  void answer(std::uint64_t id, std::uint64_t keys);
  /// Makes every current and future wait throw `failure` (a dead peer, a shutdown).
  void fail(std::exception_ptr failure);

  [[nodiscard]] bool is_finished(Ticket ticket);
  void wait(Ticket ticket);
  void wait_all();
  [[nodiscard]] std::size_t outstanding();

 private:
  void throw_if_failed() const;

  std::mutex mutex_;
  std::condition_variable answered_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::uint64_t> remaining_;  // id -> keys still unanswered
  std::exception_ptr failure_;
};

}  // namespace gapm::detail
