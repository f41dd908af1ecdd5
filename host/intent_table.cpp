#include "host/intent_table.hpp"

#include <algorithm>

namespace gapm::detail {

void intent_table::register_due(const std::vector<clock_type>& clocks,
                                const std::function<void(key_type)>& on_registered) {
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
      for (key_type k : *intent.keys) {
        if (channel_of(k, channels_) != channel_) continue;
        auto& entries = intents_[k];
        auto mine = std::find_if(entries.begin(), entries.end(),
                                 [&](const entry& e) { return e.worker == static_cast<int>(w); });
        if (mine == entries.end()) entries.push_back({static_cast<int>(w), intent.end});
        else mine->end = std::max(mine->end, intent.end);
        on_registered(k);
      }
    }
  }
}

bool intent_table::has_intent(key_type key, const std::vector<clock_type>& clocks) {
  auto it = intents_.find(key);
  if (it == intents_.end()) return false;
  auto& entries = it->second;
  std::erase_if(entries, [&](const entry& e) { return clocks[static_cast<std::size_t>(e.worker)] >= e.end; });
  if (entries.empty()) {
    intents_.erase(it);
    return false;
  }
  return true;
}

}  // namespace gapm::detail
