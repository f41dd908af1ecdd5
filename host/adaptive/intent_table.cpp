#include "host/adaptive/intent_table.hpp"

#include <algorithm>

namespace gapm::detail {

void intent_table::expire(const std::vector<clock_type>& clocks) {
  for (std::size_t w = 0; w < expiries_.size(); ++w) {
    auto& queue = expiries_[w];
    while (!queue.empty() && queue.top().end <= clocks[w]) {
      for (key_type k : queue.top().keys)  // a later intent may have extended the entry
        if (intents_.end_of(k, static_cast<int>(w)) <= clocks[w]) intents_.erase(k, static_cast<int>(w));
      expiry_bytes_ -= queue.top().keys.capacity() * sizeof(key_type);
      queue.pop();
    }
  }
  intents_.shrink_if_sparse();
}

void intent_table::register_due(const std::vector<clock_type>& clocks,
                                const std::function<void(key_type)>& on_registered) {
  expire(clocks);
  const auto& windows = timer_.update(clocks);
  for (std::size_t w = 0; w < inboxes_.size(); ++w) {
    drained_.clear();
    inboxes_[w].drain(drained_);
    auto& schedule = schedules_[w];
    for (auto& intent : drained_) schedule.push(std::move(intent));
    const clock_type horizon = clocks[w] >= CLOCK_MAX / 2 ? CLOCK_MAX : clocks[w] + windows[w];
    while (!schedule.empty() && schedule.top().start <= horizon) {
      const future_intent intent = schedule.top();
      schedule.pop();
      if (intent.end <= clocks[w]) continue;  // expired before it was due
      registered mine{intent.end, {}};
      for (key_type k : *intent.keys) {
        if (channel_of(k, channels_) != channel_) continue;
        intents_.merge(k, static_cast<int>(w), intent.end);
        mine.keys.push_back(k);
        on_registered(k);
      }
      if (mine.keys.empty()) continue;
      expiry_bytes_ += mine.keys.capacity() * sizeof(key_type);
      expiries_[w].push(std::move(mine));
    }
  }
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
