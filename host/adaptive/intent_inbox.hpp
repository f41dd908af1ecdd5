// intent_inbox: intents one worker signalled, waiting for one channel's sync manager.
// The worker only appends (its keys are shared by all channels, so the call costs O(1) per
// channel); the sync manager drains them into its schedule once per round.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include <gapm/types.hpp>

namespace gapm::detail {

struct future_intent {
  clock_type start = 0;
  clock_type end = 0;
  std::shared_ptr<const std::vector<key_type>> keys;  // any order, repeats allowed
  friend bool operator>(const future_intent& a, const future_intent& b) { return a.start > b.start; }
};

/// An intent over keys[0..n), copied once and shared by every channel. Repeated keys need no
/// de-duplication here: registering an intent twice merges into one (the larger end).
inline future_intent make_future_intent(const key_type* keys, std::size_t n, clock_type start, clock_type end) {
  return {start, end, std::make_shared<const std::vector<key_type>>(keys, keys + n)};
}

class intent_inbox {
 public:
  void push(future_intent intent) {
    std::lock_guard guard{mutex_};
    items_.push_back(std::move(intent));
  }
  /// Moves everything queued so far into `out`.
  void drain(std::vector<future_intent>& out) {
    std::lock_guard guard{mutex_};
    for (auto& item : items_) out.push_back(std::move(item));
    items_.clear();
  }

 private:
  std::mutex mutex_;
  std::vector<future_intent> items_;
};

}  // namespace gapm::detail
