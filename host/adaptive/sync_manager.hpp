// sync_manager<T>: the adaptive layer of one sync channel of a node (AdaPM's sync manager).
//
// Every key belongs to one channel (a multiplicative hash), on every node, and everything
// about a key — its intents, its replica, its sync, its relocation — is handled by that
// channel's thread, which keeps the per-key order. Each paced round:
//   1. registers the intents that are due (action_timer windows),
//   2. asks the owners for keys that have intent here but are absent (pending replicas),
//   3. sends every ready replica's delta and a refresh request (or drops the replica, with
//      its last delta, when its intent has ended),
//   4. talks to every peer, even with an empty message, and completes when every peer has
//      acknowledged and every entry has been handled somewhere (at most one round in flight).
// As an owner it merges deltas, answers refreshes with the main value when the replica is
// stale, and decides: relocate the main copy to a sole requester, replicate otherwise.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <queue>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "comm/wire.hpp"
#include "host/adaptive/intent_table.hpp"
#include "host/adaptive/parking_lot.hpp"

namespace gapm::detail {

template <class T>
class node_impl;

template <class T>
class sync_manager {
 public:
  sync_manager(node_impl<T>& node, int channel);
  ~sync_manager();  ///< stops the thread
  /// Starts the channel's thread (messages enqueued before are kept).
  void start();
  sync_manager(const sync_manager&) = delete;
  sync_manager& operator=(const sync_manager&) = delete;

  /// Worker side: queue an intent for this channel (O(1)).
  void submit(int worker, future_intent intent) { intents_.submit(worker, std::move(intent)); }
  /// Receive thread: a sync message for this channel.
  void enqueue(wire::message&& message);
  /// Rounds completed so far.
  [[nodiscard]] std::uint64_t rounds() const noexcept { return rounds_.load(); }
  /// The channel's registered intents (entries, bytes) as of its last round.
  [[nodiscard]] std::uint64_t intent_entries() const noexcept { return intent_entries_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t intent_bytes() const noexcept { return intent_bytes_.load(std::memory_order_relaxed); }
  /// Blocks until rounds() >= target, the cluster fails or the manager stops.
  void wait_for_round(std::uint64_t target);
  void stop() noexcept;

  // Snapshots (Node::save / load) need every main copy to stay where it is: pause() lets no
  // new round start, wait_idle() returns once no round of this channel is open, resume()
  // undoes pause(). request_flush() makes the next round send every held-back delta.
  void pause() noexcept { paused_.store(true, std::memory_order_release); }
  void resume() noexcept;
  void wait_idle();
  void request_flush() noexcept { flush_.store(true, std::memory_order_release); }

 private:
  struct entry {  // one key of an outgoing sync request
    key_type key;
    std::uint8_t flags;  // 1 delta, 2 refresh
    std::int64_t version;
  };

  void run();
  void start_round();
  bool has_local_intent(key_type key, const std::vector<clock_type>& clocks) {
    return intents_.has_intent(key, clocks);
  }
  void handle(wire::message&& message);
  void serve_request(wire::message&& message);
  void apply_response(const wire::message& message);
  void complete_round_if_done();
  // Validates the keys (range, channel) and sums the row lengths of the entries with `flag`.
  [[nodiscard]] std::size_t flagged_values(const std::vector<key_type>& keys, const std::vector<std::uint8_t>& flags,
                                           std::uint8_t flag) const;
  void send_or_loop(int node, const wire::header& head, const auto&... parts);

  node_impl<T>& node_;
  const int channel_;
  intent_table intents_;
  std::set<key_type> replicas_;          // pending and ready replicas of this channel
  std::unordered_set<key_type> reacquire_;  // keys given away while local intent remained
  std::unordered_map<key_type, std::chrono::steady_clock::time_point> arrived_;  // main copies, when they came
  bool just_arrived(key_type key);
  std::unordered_map<key_type, std::vector<T>> unsent_deltas_;  // below sync.threshold
  std::vector<std::unordered_set<key_type>> node_intent_;  // by peer: keys it last asked to refresh
  std::vector<clock_type> clocks_;

  // Round state.
  std::atomic<bool> round_open_{false};
  std::atomic<bool> paused_{false}, flush_{false};
  std::uint64_t round_id_ = 0;
  std::uint64_t entries_sent_ = 0, entries_handled_ = 0, acks_ = 0;
  std::chrono::steady_clock::time_point next_round_;
  std::chrono::nanoseconds interval_;

  std::mutex mutex_;  // guards inbox_, stop_ and the round counter's waiters
  std::condition_variable wake_, round_done_;
  std::deque<wire::message> inbox_;
  parking_lot parked_{std::chrono::milliseconds{1}};  // requests for keys in transit here
  bool stop_ = false;
  std::atomic<std::uint64_t> rounds_{0};
  std::atomic<std::uint64_t> intent_entries_{0}, intent_bytes_{0};
  std::thread thread_;
};

}  // namespace gapm::detail
