// intent_table: the intents of one sync channel of a node (SPEC behaviour 1).
//
// Workers submit intents (O(1) per channel: the copied key list is shared by all
// channels); once per round the channel's sync manager registers those that are due by the
// action timer, merging per (worker, key) and keeping the largest end. Intents expire when
// the worker's clock reaches their end: each round forgets the intents that ended (whatever
// the key's role here), and the map gives memory back when it has become sparse.
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include <gapm/types.hpp>

#include "host/adaptive/action_timer.hpp"
#include "host/adaptive/intent_inbox.hpp"
#include "host/adaptive/intent_map.hpp"

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
        schedules_(inboxes_.size()), expiries_(inboxes_.size()) {}

  /// Any worker thread: queue an intent of worker `worker`.
  void submit(int worker, future_intent intent) { inboxes_[static_cast<std::size_t>(worker)].push(std::move(intent)); }

  /// Sync thread, once per round: registers the intents whose start is within the worker's
  /// window (clocks: every worker's clock, WORKER_FINISHED when done). Calls
  /// on_registered(key) for every key of this channel that got an intent now.
  void register_due(const std::vector<clock_type>& clocks, const std::function<void(key_type)>& on_registered);

  /// Whether any worker still intends `key` (expired entries are dropped on the way).
  bool has_intent(key_type key, const std::vector<clock_type>& clocks);

  /// (key, worker) entries held (intents that ended are gone after the next register_due).
  [[nodiscard]] std::size_t size() const noexcept { return intents_.size(); }
  /// Bytes held for registered intents: the map and the expiry lists.
  [[nodiscard]] std::size_t memory_bytes() const noexcept { return intents_.memory_bytes() + expiry_bytes_; }

 private:
  // A registered intent, kept until its end to forget its entries: this channel's keys only.
  struct registered {
    clock_type end = 0;
    std::vector<key_type> keys;
    friend bool operator>(const registered& a, const registered& b) { return a.end > b.end; }
  };
  using expiry_queue = std::priority_queue<registered, std::vector<registered>, std::greater<>>;

  // Forgets every intent whose end its worker's clock has reached.
  void expire(const std::vector<clock_type>& clocks);

  int channel_;
  int channels_;
  action_timer timer_;
  std::vector<intent_inbox> inboxes_;  // by worker
  std::vector<std::priority_queue<future_intent, std::vector<future_intent>, std::greater<>>> schedules_;
  intent_map intents_;
  std::vector<expiry_queue> expiries_;  // by worker
  std::size_t expiry_bytes_ = 0;
  std::vector<future_intent> drained_;
};

}  // namespace gapm::detail
