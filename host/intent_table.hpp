// intent_table: the intents of one sync channel of a node (SPEC behaviour 1).
//
// Workers submit intents (O(1) per channel: the copied key list is shared by all
// channels); once per round the channel's sync manager registers those that are due by the
// action timer, merging per (worker, key) and keeping the largest end. Intents expire lazily:
// an entry whose end the worker's clock has reached is dropped when the key is next looked at.
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include <gapm/types.hpp>

#include "host/action_timer.hpp"
#include "host/intent_inbox.hpp"
#include "host/intent_map.hpp"

namespace gapm::detail {

/// The channel of a key: Knuth's multiplicative hash, as AdaPM (mod would clash with the
/// key % N partitioning).
[[nodiscard]] inline int channel_of(key_type key, int channels) noexcept {
  if (channels == 1) return 0;
  const auto bits = static_cast<unsigned>(__builtin_ctz(static_cast<unsigned>(channels)));
  return static_cast<int>((static_cast<std::uint32_t>(key) * 2654435769u) >> (32 - bits));
}

class intent_table {
 public:
  intent_table(int workers, int channel, int channels, action_timer timer)
      : channel_{channel}, channels_{channels}, timer_{timer}, inboxes_(static_cast<std::size_t>(workers)),
        schedules_(inboxes_.size()) {}

  /// Any worker thread: queue an intent of worker `worker`.
  void submit(int worker, future_intent intent) { inboxes_[static_cast<std::size_t>(worker)].push(std::move(intent)); }

  /// Sync thread, once per round: registers the intents whose start is within the worker's
  /// window (clocks: every worker's clock, WORKER_FINISHED when done). Calls
  /// on_registered(key) for every key of this channel that got an intent now.
  void register_due(const std::vector<clock_type>& clocks, const std::function<void(key_type)>& on_registered);

  /// Whether any worker still intends `key` (expired entries are dropped on the way).
  bool has_intent(key_type key, const std::vector<clock_type>& clocks);

  /// (key, worker) entries held, expired ones included until they are looked at.
  [[nodiscard]] std::size_t size() const noexcept { return intents_.size(); }

 private:
  int channel_;
  int channels_;
  action_timer timer_;
  std::vector<intent_inbox> inboxes_;  // by worker
  std::vector<std::priority_queue<future_intent, std::vector<future_intent>, std::greater<>>> schedules_;
  intent_map intents_;
  std::vector<future_intent> drained_;
};

}  // namespace gapm::detail
