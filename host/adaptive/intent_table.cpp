#include "host/adaptive/intent_table.hpp"

#include <algorithm>
#include <limits>

namespace gapm::detail {

namespace {
// How far ahead a batch walk prefetches map slots: enough to cover a memory access.
constexpr std::size_t prefetch_distance = 8;
}  // namespace

void intent_table::expire(const std::vector<clock_type>& clocks) {
  for (std::size_t w = 0; w < expiries_.size(); ++w) {
    auto& queue = expiries_[w];
    const int worker = static_cast<int>(w);
    while (!queue.empty() && queue.top().end <= clocks[w]) {
      const auto& keys = *queue.top().keys;
      for (std::size_t i = 0; i < keys.size(); ++i) {
        if (i + prefetch_distance < keys.size()) intents_.prefetch(keys[i + prefetch_distance], worker);
        intents_.erase_if_ended(keys[i], worker, clocks[w]);  // a later intent may have extended it
      }
      expiry_bytes_ -= keys.capacity() * sizeof(key_type);
      queue.pop();
    }
  }
  intents_.shrink_if_sparse();
}

void intent_table::forget_worker(std::size_t worker) {
  auto& queue = expiries_[worker];
  for (; !queue.empty(); queue.pop()) {
    for (key_type k : *queue.top().keys) intents_.erase(k, static_cast<int>(worker));
    expiry_bytes_ -= queue.top().keys->capacity() * sizeof(key_type);
  }
  schedules_[worker] = {};
  timer_.restart(worker);
}

std::vector<clock_type> intent_table::register_due(const std::function<std::vector<clock_type>()>& read_clocks,
                                                   const std::function<void(key_type)>& on_registered) {
  for (std::size_t w = 0; w < inboxes_.size(); ++w) {
    drained_.clear();
    inboxes_[w].drain(drained_);
    for (auto& intent : drained_) {
      if (intent.worker_left) forget_worker(w);  // what follows is a new worker's
      else if (intent.keys && !intent.keys->empty()) schedules_[w].push(std::move(intent));
    }
  }
  std::vector<clock_type> clocks = read_clocks();
  expire(clocks);
  const auto& windows = timer_.update(clocks);
  rounds_to_due_ = std::numeric_limits<double>::infinity();
  for (std::size_t w = 0; w < inboxes_.size(); ++w) {
    const int worker = static_cast<int>(w);
    auto& schedule = schedules_[w];
    const clock_type horizon = clocks[w] >= CLOCK_MAX / 2 ? CLOCK_MAX : clocks[w] + windows[w];
    while (!schedule.empty() && schedule.top().start <= horizon) {
      const future_intent intent = schedule.top();
      schedule.pop();
      if (intent.end <= clocks[w]) continue;  // expired before it was due
      const auto& keys = *intent.keys;
      for (std::size_t i = 0; i < keys.size(); ++i) {
        if (i + prefetch_distance < keys.size()) intents_.prefetch(keys[i + prefetch_distance], worker);
        intents_.merge(keys[i], worker, intent.end);
        on_registered(keys[i]);
      }
      expiry_bytes_ += keys.capacity() * sizeof(key_type);
      expiries_[w].push({intent.end, intent.keys});
    }
    if (!schedule.empty() && clocks[w] < CLOCK_MAX / 2) {  // clocks to go, over clocks per round
      const double pace = std::max(timer_.estimate(w), 1e-9);
      rounds_to_due_ = std::min(rounds_to_due_, static_cast<double>(schedule.top().start - horizon) / pace);
    }
  }
  return clocks;
}

bool intent_table::has_intent(key_type key, const std::vector<clock_type>& clocks) {
  bool any = false;
  for (std::size_t w = 0; w < clocks.size(); ++w) {
    const clock_type end = intents_.end_of(key, static_cast<int>(w));
    if (end < 0) continue;
    if (clocks[w] >= end) intents_.erase(key, static_cast<int>(w));  // expired: forget it
    else any = true;
  }
  return any;
}

}  // namespace gapm::detail
