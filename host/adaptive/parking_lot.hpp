// parking_lot: messages waiting for a key that is on its way to this node. They are
// re-delivered when a key arrives (wake()) or, failing that, after a short timeout; every
// re-delivery adds the time waited to the header's waited_ms, which wire::parked() bounds.
// The thread that takes them (take_due()) may sleep until the next is due: a notifier, when
// set, is called whenever a message is parked or the lot is woken, to cut that sleep short.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

#include "comm/wire.hpp"

namespace gapm::detail {

class parking_lot {
 public:
  using clock = std::chrono::steady_clock;

  explicit parking_lot(clock::duration timeout) : timeout_{timeout} {}

  /// `notify` is called (on any thread) when a message is parked or the lot is woken. Set it
  /// before any other thread uses the lot.
  void set_notifier(std::function<void()> notify) { notify_ = std::move(notify); }

  /// Parks `message` (its header already passed through wire::parked()); thread-safe.
  void park(wire::message&& message, clock::duration delay) {
    const auto now = clock::now();
    {
      std::lock_guard guard{mutex_};
      parked_.push_back({now + delay, now, std::move(message)});
      next_due_ = std::min(next_due_, now + delay);
      size_.store(parked_.size(), std::memory_order_relaxed);
    }
    if (notify_) notify_();
  }
  void park(wire::message&& message) { park(std::move(message), timeout_); }

  /// Something arrived: every parked message is due at the next take_due().
  void wake() noexcept {
    woken_.store(true, std::memory_order_release);
    if (notify_) notify_();
  }

  /// How long until the next parked message is due (zero when one is, or the lot was woken),
  /// at most `cap`.
  [[nodiscard]] clock::duration time_to_next_due(clock::duration cap) {
    if (empty()) return cap;
    if (woken_.load(std::memory_order_acquire)) return clock::duration::zero();
    const auto now = clock::now();
    std::lock_guard guard{mutex_};
    return std::clamp(next_due_ - now, clock::duration::zero(), cap);
  }

  [[nodiscard]] bool empty() const noexcept { return size_.load(std::memory_order_relaxed) == 0; }

  /// Removes and returns the messages that are due, their waited_ms updated.
  std::vector<wire::message> take_due() {
    std::vector<wire::message> due;
    if (empty()) return due;
    const bool everything = woken_.exchange(false, std::memory_order_acq_rel);
    const auto now = clock::now();
    std::lock_guard guard{mutex_};
    next_due_ = clock::time_point::max();  // of the messages that stay
    auto keep = parked_.begin();
    for (auto& waiting : parked_) {
      if (everything || waiting.due <= now) {
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - waiting.since).count();
        auto& head = waiting.message.head;
        head.waited_ms = static_cast<std::uint16_t>(std::min<long long>(head.waited_ms + waited, wire::max_wait_ms));
        due.push_back(std::move(waiting.message));
      } else {
        next_due_ = std::min(next_due_, waiting.due);
        if (&*keep != &waiting) *keep = std::move(waiting);  // never self-move: it would empty the payload
        ++keep;
      }
    }
    parked_.erase(keep, parked_.end());
    size_.store(parked_.size(), std::memory_order_relaxed);
    return due;
  }

 private:
  struct entry {
    clock::time_point due;
    clock::time_point since;
    wire::message message;
  };

  clock::duration timeout_;
  std::mutex mutex_;
  std::vector<entry> parked_;
  clock::time_point next_due_ = clock::time_point::max();  // the earliest due of parked_ (under mutex_)
  std::atomic<std::size_t> size_{0};
  std::atomic<bool> woken_{false};
  std::function<void()> notify_;
};

}  // namespace gapm::detail
