#include "host/store/slot_index.hpp"

#include <limits>

#include "host/common/expects.hpp"

namespace gapm::detail {

slot_index::slot_index(key_type first_key, std::uint64_t num_keys, std::uint64_t capacity)
    : first_key_{first_key}, capacity_{capacity}, slots_(num_keys, -1) {
  GAPM_EXPECTS(capacity <= static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()),
               "capacity ", capacity, " exceeds the 2^31-1 slots a table can hold");
}

bool slot_index::insert(const key_type* keys, std::size_t n, std::vector<key_type>& added_keys,
                        std::vector<slot_type>& added_slots) {
  const std::size_t first_added = added_keys.size();
  for (std::size_t i = 0; i < n; ++i) {
    std::int32_t& entry = slots_[keys[i] - first_key_];
    if (entry >= 0) continue;
    if (free_.empty() && next_unused_ == capacity_) {  // roll back this call's assignments
      for (std::size_t j = added_keys.size(); j-- > first_added;) {
        free_.push_back(added_slots[j]);
        std::atomic_ref<std::int32_t>(slots_[added_keys[j] - first_key_]).store(-1, std::memory_order_release);
      }
      added_keys.resize(first_added);
      added_slots.resize(first_added);
      return false;
    }
    slot_type slot;
    if (free_.empty()) {
      slot = static_cast<slot_type>(next_unused_++);
    } else {
      slot = free_.back();
      free_.pop_back();
    }
    std::atomic_ref<std::int32_t>(entry).store(static_cast<std::int32_t>(slot), std::memory_order_release);
    added_keys.push_back(keys[i]);
    added_slots.push_back(slot);
  }
  used_.fetch_add(added_keys.size() - first_added, std::memory_order_relaxed);
  return true;
}

std::int64_t slot_index::erase(key_type key) {
  const std::int64_t slot = retire(key);
  if (slot != no_slot) release(static_cast<slot_type>(slot));
  return slot;
}

std::int64_t slot_index::retire(key_type key) {
  std::int32_t& entry = slots_[key - first_key_];
  const std::int32_t slot = entry;
  if (slot < 0) return no_slot;
  std::atomic_ref<std::int32_t>(entry).store(-1, std::memory_order_release);
  return slot;
}

void slot_index::release(slot_type slot) {
  free_.push_back(slot);
  used_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace gapm::detail
