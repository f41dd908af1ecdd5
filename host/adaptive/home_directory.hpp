// home_directory: the home's record of where its keys' main copies are (SPEC behaviour 6).
//
// Sparse: a key that never left home has no entry (its owner is the home, counter 0); only keys
// that moved at least once are kept, so the directory grows with the keys that relocate, not
// with the key space. Thread-safe: the receive thread and every sync channel update it.
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>

#include <gapm/types.hpp>

namespace gapm::detail {

class home_directory {
 public:
  struct entry {
    int owner;
    std::int64_t counter;  ///< of the relocation it was last heard of with
  };

  explicit home_directory(int home) : home_{home} {}

  [[nodiscard]] entry find(key_type key) const {
    std::lock_guard lock{mutex_};
    const auto it = moved_.find(key);
    return it == moved_.end() ? entry{home_, 0} : it->second;
  }

  /// Records a relocation if `counter` is newer than what the directory has.
  bool update(key_type key, int owner, std::int64_t counter) {
    std::lock_guard lock{mutex_};
    const auto it = moved_.find(key);
    if (counter <= (it == moved_.end() ? 0 : it->second.counter)) return false;
    moved_.insert_or_assign(key, entry{owner, counter});
    return true;
  }

  [[nodiscard]] std::size_t moved_keys() const {
    std::lock_guard lock{mutex_};
    return moved_.size();
  }

 private:
  int home_;
  mutable std::mutex mutex_;
  std::unordered_map<key_type, entry> moved_;
};

}  // namespace gapm::detail
