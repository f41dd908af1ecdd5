// home_directory: the home's record of where its keys' main copies are (SPEC behaviour 6).
//
// A key that never left home needs nothing (its owner is the home, counter 0). Where a slot
// per home key is cheap (key_states decides) the directory is a lock-free array; else only
// keys that moved at least once are kept, in a map under a mutex, so that it grows with the
// keys that relocate, not with the key space. Thread-safe: the receive thread and every sync
// channel update it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include <gapm/types.hpp>

#include "host/common/flat_key_map.hpp"

namespace gapm::detail {

class home_directory {
 public:
  struct entry {
    int owner = -1;
    std::int64_t counter = 0;  ///< of the relocation it was last heard of with
  };

  /// The directory of node `home` of `world_size`, for keys [0, num_keys); `dense`: an entry
  /// per home key up front (8 bytes each).
  home_directory(int home, int world_size, std::uint64_t num_keys, bool dense)
      : home_{home}, world_size_{static_cast<std::uint64_t>(world_size)} {
    if (dense) dense_ = std::make_unique<std::atomic<std::uint64_t>[]>(num_keys / world_size_ + 1);
  }

  [[nodiscard]] entry find(key_type key) const {
    if (dense_) return unpack(dense_[key / world_size_].load(std::memory_order_acquire));
    std::lock_guard lock{mutex_};
    const std::uint64_t* moved = moved_.find(key);
    return unpack(moved == nullptr ? 0 : *moved);
  }

  /// Records a relocation if `counter` is newer than what the directory has.
  bool update(key_type key, int owner, std::int64_t counter) {
    const std::uint64_t packed = pack(owner, counter);
    if (dense_) {
      std::atomic<std::uint64_t>& slot = dense_[key / world_size_];
      std::uint64_t seen = slot.load(std::memory_order_relaxed);
      while (counter > unpack(seen).counter)
        if (slot.compare_exchange_weak(seen, packed, std::memory_order_acq_rel)) return true;
      return false;
    }
    std::lock_guard lock{mutex_};
    const std::uint64_t* moved = moved_.find(key);
    if (counter <= unpack(moved == nullptr ? 0 : *moved).counter) return false;
    moved_.put(key, packed);
    return true;
  }

 private:
  // An entry packs the counter (48 bits: 2.8e14 relocations of one key) and the owner; 0 is
  // "never moved" (real counters start at 1).
  static constexpr int owner_bits = 16;
  [[nodiscard]] static std::uint64_t pack(int owner, std::int64_t counter) noexcept {
    return static_cast<std::uint64_t>(counter) << owner_bits | static_cast<std::uint64_t>(owner);
  }
  [[nodiscard]] entry unpack(std::uint64_t packed) const noexcept {
    if (packed == 0) return {home_, 0};
    return {static_cast<int>(packed & ((std::uint64_t{1} << owner_bits) - 1)), static_cast<std::int64_t>(packed >> owner_bits)};
  }

  int home_;
  std::uint64_t world_size_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> dense_;
  mutable std::mutex mutex_;
  flat_key_map<std::uint64_t> moved_;
};

}  // namespace gapm::detail
