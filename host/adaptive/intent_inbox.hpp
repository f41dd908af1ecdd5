// intent_inbox: intents one worker signalled, waiting for one channel's sync manager.
// The worker splits an intent's keys by channel once and appends each part to its channel's
// inbox; the sync manager drains them into its schedule once per round and keeps the part
// until the intent ends, so the keys are copied once and never filtered again.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <gapm/types.hpp>

namespace gapm::detail {

/// The channel of a key: Knuth's multiplicative hash, as AdaPM (mod would clash with the
/// key % N partitioning).
[[nodiscard]] inline int channel_of(key_type key, int channels) noexcept {
  if (channels == 1) return 0;
  const auto bits = static_cast<unsigned>(__builtin_ctz(static_cast<unsigned>(channels)));
  return static_cast<int>((static_cast<std::uint32_t>(key) * 2654435769u) >> (32 - bits));
}

using intent_keys = std::shared_ptr<const std::vector<key_type>>;

struct future_intent {
  clock_type start = 0;
  clock_type end = 0;
  intent_keys keys;  // one channel's keys, any order, repeats allowed
  /// Not an intent but a mark: the worker that submitted everything before it is gone (its
  /// id may be taken by a new worker, whose intents follow).
  bool worker_left = false;
  friend bool operator>(const future_intent& a, const future_intent& b) { return a.start > b.start; }
};

/// An intent over keys[0..n), split by channel: element c holds channel c's keys (null when
/// it has none). Repeated keys need no de-duplication here: registering an intent twice
/// merges into one (the larger end).
inline std::vector<future_intent> split_intent(const key_type* keys, std::size_t n, clock_type start,
                                               clock_type end, int channels) {
  std::vector<future_intent> parts(static_cast<std::size_t>(channels), future_intent{start, end, nullptr});
  if (channels == 1) {
    parts[0].keys = std::make_shared<const std::vector<key_type>>(keys, keys + n);
    return parts;
  }
  std::vector<std::vector<key_type>> split(parts.size());
  for (auto& part : split) part.reserve(n / parts.size() + n / (4 * parts.size()) + 8);
  for (std::size_t i = 0; i < n; ++i) split[static_cast<std::size_t>(channel_of(keys[i], channels))].push_back(keys[i]);
  for (std::size_t c = 0; c < parts.size(); ++c)
    if (!split[c].empty()) parts[c].keys = std::make_shared<const std::vector<key_type>>(std::move(split[c]));
  return parts;
}

class intent_inbox {
 public:
  void push(future_intent intent) {
    std::lock_guard guard{mutex_};
    items_.push_back(std::move(intent));
  }
  [[nodiscard]] bool empty() {
    std::lock_guard guard{mutex_};
    return items_.empty();
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
