// location_cache: a bounded guess of where keys held elsewhere live, for a worker's first hop.
//
// Direct-mapped and lossy: each entry packs a key and a node into one atomic word, so lookups
// and updates are lock-free and a collision simply replaces the older guess. A wrong or lost
// guess costs at most a hop (every node forwards by what it knows), so the cache never needs
// to be exact, and its size is fixed however many keys the job has.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>

#include <gapm/types.hpp>

namespace gapm::detail {

class location_cache {
 public:
  /// Keys must be below 2^48 and nodes below 2^16 - 1 (checked by key_states).
  static constexpr std::uint64_t max_entries = std::uint64_t{1} << 20;  // 8 MiB

  explicit location_cache(std::uint64_t num_keys)
      : mask_{std::bit_ceil(std::max<std::uint64_t>(1, std::min(num_keys, max_entries))) - 1},
        entries_{std::make_unique<std::atomic<std::uint64_t>[]>(mask_ + 1)} {}

  /// The node last seen holding `key`, or -1.
  [[nodiscard]] int get(key_type key) const noexcept {
    const std::uint64_t entry = entries_[index(key)].load(std::memory_order_relaxed);
    if (entry == 0 || (entry >> node_bits) != key) return -1;
    return static_cast<int>(entry & node_mask) - 1;
  }
  void put(key_type key, int node) noexcept {
    entries_[index(key)].store(key << node_bits | static_cast<std::uint64_t>(node + 1), std::memory_order_relaxed);
  }
  /// Forgets `key` (if the entry is still its own).
  void clear(key_type key) noexcept {
    std::atomic<std::uint64_t>& entry = entries_[index(key)];
    std::uint64_t seen = entry.load(std::memory_order_relaxed);
    if (seen != 0 && (seen >> node_bits) == key) entry.compare_exchange_strong(seen, 0, std::memory_order_relaxed);
  }

  [[nodiscard]] std::uint64_t entries() const noexcept { return mask_ + 1; }

 private:
  static constexpr int node_bits = 16;
  static constexpr std::uint64_t node_mask = (std::uint64_t{1} << node_bits) - 1;

  // Fibonacci hashing: neighbouring keys (often used together) land far apart.
  [[nodiscard]] std::uint64_t index(key_type key) const noexcept {
    return (key * 0x9E3779B97F4A7C15ull >> 20) & mask_;
  }

  std::uint64_t mask_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> entries_;
};

}  // namespace gapm::detail
