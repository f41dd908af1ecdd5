// sync_channel<T>: one sync channel of a node (AdaPM's sync manager): its thread, its inbox,
// its pacing and the accounting of its rounds. What a round asks and how answers apply is the
// replica side's business; how requests of others are answered, the owner side's.
//
// Every key belongs to one channel (a multiplicative hash), on every node, and everything
// about a key — its intents, its replica, its sync, its relocation — happens on that channel's
// thread, which keeps the per-key order. Rounds are paced (sync.max_per_sec), at most one is
// open, and a round completes when every peer has acknowledged it and every entry has been
// handled somewhere (forwarded entries included).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "comm/wire.hpp"
#include "host/adaptive/channel_state.hpp"
#include "host/adaptive/owner_side.hpp"
#include "host/adaptive/parking_lot.hpp"
#include "host/adaptive/replica_side.hpp"
#include "host/adaptive/sync_context.hpp"

namespace gapm::detail {

template <class T>
class sync_channel {
 public:
  sync_channel(sync_context<T>& context, int channel);
  ~sync_channel();  ///< stops the thread
  sync_channel(const sync_channel&) = delete;
  sync_channel& operator=(const sync_channel&) = delete;

  /// Starts the thread (messages enqueued before are kept).
  void start();
  void stop() noexcept;

  /// Worker side: queue an intent (O(1); wakes an idle channel).
  void submit(int worker, future_intent intent) {
    state_.intents.submit(worker, std::move(intent));
    if (idle_.load(std::memory_order_relaxed)) wake();
  }
  /// Worker `worker` is gone (before its id may be taken again): intent_table::worker_left.
  void worker_left(int worker) { state_.intents.worker_left(worker); }
  /// A sync request or response for this channel (receive thread, or this node itself).
  void enqueue(wire::message&& message);

  /// Rounds completed so far.
  [[nodiscard]] std::uint64_t rounds() const noexcept { return rounds_.load(); }
  /// Blocks until rounds() >= target; throws comm_error when the cluster fails, logic_error
  /// when the channel stops first.
  void wait_for_round(std::uint64_t target);

  // Snapshots (Node::save / load) need every main copy to stay where it is: pause() lets no
  // new round start, wait_idle() returns once no round is open, resume() undoes pause().
  // request_flush() makes the next round send every held-back delta.
  void pause() noexcept { paused_.store(true, std::memory_order_release); }
  void resume() noexcept;
  void wait_idle();
  void request_flush() noexcept { flush_.store(true, std::memory_order_release); }

  /// The channel's registered intents (entries, bytes) as of its last round.
  [[nodiscard]] std::uint64_t intent_entries() const noexcept { return intent_entries_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t intent_bytes() const noexcept { return intent_bytes_.load(std::memory_order_relaxed); }

 private:
  void run();
  void start_round();
  void wake() noexcept;  // the next round is due now
  void handle(wire::message&& message);
  void apply_response(const wire::message& message);
  void complete_round_if_done();
  // A round open longer than sync.round_timeout_s fails the cluster naming who did not answer.
  void check_round_deadline();
  // Sends to a peer, or into this channel's own inbox (an entry that came back to its origin).
  void send(int node, std::vector<std::byte>&& frame);

  sync_context<T>& ctx_;
  const int channel_;
  channel_state<T> state_;
  parking_lot parked_{std::chrono::milliseconds{1}};  // requests for keys on their way here
  replica_side<T> replicas_{ctx_, state_, channel_};
  owner_side<T> owner_{ctx_, state_, parked_, channel_};

  // Round state (this thread only, but round_open_ is read by waiters).
  std::atomic<bool> round_open_{false};
  std::uint64_t round_id_ = 0;
  std::uint64_t entries_sent_ = 0, entries_handled_ = 0, acks_ = 0, acks_expected_ = 0;
  std::vector<bool> asked_;  // by peer: whether the last round's message to it had entries
  std::atomic<bool> idle_{false};
  std::chrono::steady_clock::time_point next_round_;  // guarded by mutex_ (wake() moves it)
  bool woken_ = false;  // guarded by mutex_: wake() was called since the last round started
  std::chrono::nanoseconds interval_;
  double pause_rounds_;  // rounds an idle pause spans at that pace
  std::vector<bool> acked_;  // by peer: who acknowledged the open round
  std::chrono::steady_clock::time_point round_started_;
  std::chrono::nanoseconds round_timeout_;

  std::mutex mutex_;  // guards inbox_, stop_ and the waiters of rounds_
  std::condition_variable wake_, round_done_;
  std::deque<wire::message> inbox_;
  bool stop_ = false;
  std::atomic<bool> paused_{false}, flush_{false};
  std::atomic<std::uint64_t> rounds_{0};
  std::atomic<std::uint64_t> intent_entries_{0}, intent_bytes_{0};
  std::thread thread_;
};

}  // namespace gapm::detail
