// intent_table: the intents of one sync channel of a node (SPEC behaviour 1).
//
// Workers submit intents (this channel's part of the keys, see split_intent); once per round
// the channel's sync manager registers those that are due by the action timer, merging per
// (worker, key) and keeping the largest end. Intents expire when
// the worker's clock reaches their end: each round forgets the intents that ended (whatever
// the key's role here), and the map gives memory back when it has become sparse.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <queue>
#include <vector>

#include <gapm/types.hpp>

#include "host/adaptive/action_timer.hpp"
#include "host/adaptive/intent_inbox.hpp"
#include "host/adaptive/intent_map.hpp"

namespace gapm::detail {

class intent_table {
 public:
  intent_table(int workers, action_timer timer)
      : timer_{timer}, inboxes_(static_cast<std::size_t>(workers)),
        schedules_(inboxes_.size()), expiries_(inboxes_.size()) {}

  /// Any worker thread: queue an intent of worker `worker` over keys of this channel.
  void submit(int worker, future_intent intent) { inboxes_[static_cast<std::size_t>(worker)].push(std::move(intent)); }
  /// Worker `worker` is gone (call before its id can be taken again): the next round forgets
  /// every intent it submitted and its pace, so a new worker of that id inherits neither.
  void worker_left(int worker) { submit(worker, future_intent{.start = 0, .end = 0, .keys = nullptr, .worker_left = true}); }

  /// Sync thread, once per round: takes the intents submitted so far, then reads every
  /// worker's clock (read_clocks: WORKER_FINISHED for a worker that is done or not yet made)
  /// and registers the intents whose start is within the worker's window. Calls
  /// on_registered(key) for every key of this channel that got an intent now; returns the
  /// clocks it read.
  ///
  /// Intents first, clocks second: a worker whose intent was taken exists when its clock is
  /// read. Read the other way round, a worker made in between reads as finished, and its
  /// first intents would be dropped as ended.
  std::vector<clock_type> register_due(const std::function<std::vector<clock_type>()>& read_clocks,
                                       const std::function<void(key_type)>& on_registered);

  /// Whether any worker still intends `key` (expired entries are dropped on the way).
  bool has_intent(key_type key, const std::vector<clock_type>& clocks);

  /// Whether rounds have work ahead: intents registered, or a scheduled one that becomes due
  /// within `rounds` more rounds at its worker's pace (as of the last register_due). A channel
  /// about to pause for the span of k rounds asks with k, so the intent is registered in time.
  [[nodiscard]] bool active(double rounds) const noexcept { return intents_.size() > 0 || rounds_to_due_ <= rounds; }
  /// Whether a worker submitted an intent that no round has taken yet.
  [[nodiscard]] bool has_submitted() {
    return std::any_of(inboxes_.begin(), inboxes_.end(), [](intent_inbox& inbox) { return !inbox.empty(); });
  }

  /// (key, worker) entries held (intents that ended are gone after the next register_due).
  [[nodiscard]] std::size_t size() const noexcept { return intents_.size(); }
  /// Bytes held for registered intents: the map and the expiry lists.
  [[nodiscard]] std::size_t memory_bytes() const noexcept { return intents_.memory_bytes() + expiry_bytes_; }

 private:
  // A registered intent, kept until its end to forget its entries.
  struct registered {
    clock_type end = 0;
    intent_keys keys;
    friend bool operator>(const registered& a, const registered& b) { return a.end > b.end; }
  };
  using expiry_queue = std::priority_queue<registered, std::vector<registered>, std::greater<>>;

  // Forgets every intent whose end its worker's clock has reached.
  void expire(const std::vector<clock_type>& clocks);
  // Forgets every intent of `worker`, registered or scheduled.
  void forget_worker(std::size_t worker);

  action_timer timer_;
  std::vector<intent_inbox> inboxes_;  // by worker
  std::vector<std::priority_queue<future_intent, std::vector<future_intent>, std::greater<>>> schedules_;
  intent_map intents_;
  std::vector<expiry_queue> expiries_;  // by worker
  std::size_t expiry_bytes_ = 0;
  double rounds_to_due_ = std::numeric_limits<double>::infinity();  // until the first scheduled intent is due
  std::vector<future_intent> drained_;
};

}  // namespace gapm::detail
