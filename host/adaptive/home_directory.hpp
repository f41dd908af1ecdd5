// home_directory: the home's record of where its keys' main copies are (SPEC behaviour 6).
//
// Sparse: a key that never left home has no entry (its owner is the home, counter 0); only keys
// that moved at least once are kept, so the directory grows with the keys that relocate, not
// with the key space. Thread-safe: the receive thread and every sync channel update it.
#pragma once

#include <cstdint>
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

  explicit home_directory(int home) : home_{home} {}

  [[nodiscard]] entry find(key_type key) const {
    std::lock_guard lock{mutex_};
    const std::uint64_t* moved = moved_.find(key);
    return moved == nullptr ? entry{home_, 0} : unpack(*moved);
  }

  /// Records a relocation if `counter` is newer than what the directory has.
  bool update(key_type key, int owner, std::int64_t counter) {
    std::lock_guard lock{mutex_};
    const std::uint64_t* moved = moved_.find(key);
    if (counter <= (moved == nullptr ? 0 : unpack(*moved).counter)) return false;
    moved_.put(key, static_cast<std::uint64_t>(counter) << owner_bits | static_cast<std::uint64_t>(owner));
    return true;
  }

  [[nodiscard]] std::size_t moved_keys() const {
    std::lock_guard lock{mutex_};
    return moved_.size();
  }

 private:
  // An entry packs the counter (48 bits: 2.8e14 relocations of one key) and the owner.
  static constexpr int owner_bits = 16;
  [[nodiscard]] static entry unpack(std::uint64_t packed) noexcept {
    return {static_cast<int>(packed & ((std::uint64_t{1} << owner_bits) - 1)),
            static_cast<std::int64_t>(packed >> owner_bits)};
  }

  int home_;
  mutable std::mutex mutex_;
  flat_key_map<std::uint64_t> moved_;
};

}  // namespace gapm::detail
