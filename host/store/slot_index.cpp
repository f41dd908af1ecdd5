#include "host/store/slot_index.hpp"

#include <algorithm>
#include <limits>

#include "host/common/expects.hpp"

namespace gapm::detail {

namespace {

key_type first_home_key(key_type first_key, const home_keys& home) {
  if (home.stride == 0) return ~key_type{0};  // no home keys: every key is above the table
  return first_key + (home.residue + home.stride - first_key % home.stride) % home.stride;
}

}  // namespace

slot_index::slot_index(key_type first_key, std::uint64_t num_keys, std::uint64_t capacity, home_keys home,
                       std::size_t row_bytes)
    : first_key_{first_key},
      num_keys_{num_keys},
      capacity_{capacity},
      stride_{std::max<std::uint64_t>(home.stride, 1)},
      shift_{std::has_single_bit(stride_) ? std::countr_zero(stride_) : -1},
      inverse_{shift_ >= 0 ? 0 : ~std::uint64_t{0} / stride_ + 1},
      first_home_{first_home_key(first_key, home)},
      home_count_{first_home_ < first_key + num_keys ? (first_key + num_keys - first_home_ + stride_ - 1) / stride_ : 0},
      wide_{num_keys >= std::numeric_limits<std::uint32_t>::max()} {
  GAPM_EXPECTS(home.stride == 0 || home.residue < home.stride, "slot_index: bad home keys");
  GAPM_EXPECTS(shift_ >= 0 || (stride_ < (1u << 16) && first_key + num_keys <= (std::uint64_t{1} << 48)),
               "slot_index: home keys by a stride of ", stride_, " need keys below 2^48");
  GAPM_EXPECTS(capacity <= static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()),
               "capacity ", capacity, " exceeds the 2^31-1 slots a table can hold");
  GAPM_EXPECTS(home_count_ <= capacity, "the table of keys [", first_key, ", ", first_key + num_keys, ") needs ",
               home_count_, " row slots for its home keys, but option 'capacity' allows ", capacity);
  // A dense array for the other keys where it is cheap (home_keys).
  if (home.stride > 1 && (home.dense_others || num_keys * sizeof(std::int32_t) * 16 <= home_count_ * row_bytes))
    dense_foreign_.assign(num_keys, -1);
  present_ = std::make_unique<std::atomic<std::uint64_t>[]>((home_count_ + 63) / 64);
  next_unused_ = home_count_;
}

void slot_index::set_present(std::uint64_t slot, bool present) noexcept {
  const std::uint64_t bit = std::uint64_t{1} << (slot % 64);
  if (present) present_[slot / 64].fetch_or(bit, std::memory_order_release);
  else present_[slot / 64].fetch_and(~bit, std::memory_order_release);
}

bool slot_index::insert(const key_type* keys, std::size_t n, std::vector<key_type>& added_keys,
                        std::vector<slot_type>& added_slots) {
  const std::size_t first_added = added_keys.size();
  // All or nothing: count the slots it takes before changing anything (repeated keys only
  // when they might make the difference).
  std::uint64_t foreign_wanted = 0;
  for (std::size_t i = 0; i < n; ++i) foreign_wanted += !is_home(keys[i]) && slot_of(keys[i]) < 0;
  if (foreign_wanted > free_slots()) {
    std::vector<key_type> foreign_new;
    for (std::size_t i = 0; i < n; ++i)
      if (!is_home(keys[i]) && slot_of(keys[i]) < 0) foreign_new.push_back(keys[i]);
    std::sort(foreign_new.begin(), foreign_new.end());
    if (static_cast<std::uint64_t>(std::unique(foreign_new.begin(), foreign_new.end()) - foreign_new.begin()) > free_slots())
      return false;
  }

  for (std::size_t i = 0; i < n; ++i) {
    const key_type key = keys[i];
    if (slot_of(key) >= 0) continue;
    slot_type slot;
    if (const std::int64_t home = home_slot(key); home >= 0) {
      slot = static_cast<slot_type>(home);
      set_present(slot, true);
    } else {
      if (free_.empty()) {
        slot = static_cast<slot_type>(next_unused_++);
      } else {
        slot = free_.back();
        free_.pop_back();
      }
      set_foreign(key, static_cast<std::int32_t>(slot));
    }
    added_keys.push_back(key);
    added_slots.push_back(slot);
  }
  used_.fetch_add(added_keys.size() - first_added, std::memory_order_relaxed);
  return true;
}

void slot_index::set_foreign(key_type key, std::int32_t slot) {
  if (!dense_foreign_.empty()) {
    std::atomic_ref<std::int32_t>(dense_foreign_[key - first_key_]).store(slot, std::memory_order_release);
    dense_foreign_count_ += slot < 0 ? -1 : 1;
    return;
  }
  if (slot < 0) {
    if (wide_) wide_foreign_.erase(key);
    else narrow_foreign_.erase(offset_of(key));
  } else {
    if (wide_) wide_foreign_.put(key, slot);
    else narrow_foreign_.put(offset_of(key), slot);
  }
}

std::vector<key_type> slot_index::keys() const {
  std::vector<key_type> home, foreign;
  home.reserve(size());
  for (std::uint64_t s = 0; s < home_count_; ++s)
    if ((present_[s / 64].load(std::memory_order_relaxed) >> (s % 64) & 1) != 0) home.push_back(first_home_ + s * stride_);
  if (!dense_foreign_.empty()) {
    for (std::size_t i = 0; i < dense_foreign_.size(); ++i)
      if (dense_foreign_[i] >= 0) foreign.push_back(first_key_ + i);
  } else if (wide_) {
    wide_foreign_.for_each([&](key_type key, std::int32_t) { foreign.push_back(key); });
  } else {
    narrow_foreign_.for_each([&](std::uint32_t offset, std::int32_t) { foreign.push_back(first_key_ + offset); });
  }
  std::sort(foreign.begin(), foreign.end());
  std::vector<key_type> all(home.size() + foreign.size());
  std::merge(home.begin(), home.end(), foreign.begin(), foreign.end(), all.begin());
  return all;
}

std::int64_t slot_index::erase(key_type key) {
  const std::int64_t slot = retire(key);
  if (slot != no_slot) release(static_cast<slot_type>(slot));
  return slot;
}

std::int64_t slot_index::retire(key_type key) {
  const std::int64_t slot = slot_of(key);
  if (slot < 0) return no_slot;
  if (static_cast<std::uint64_t>(slot) < home_count_) {
    set_present(static_cast<std::uint64_t>(slot), false);
  } else {
    set_foreign(key, -1);
    ++retired_foreign_;
  }
  return slot;
}

void slot_index::release(slot_type slot) {
  if (slot >= home_count_) {  // a home slot stays its key's
    free_.push_back(slot);
    --retired_foreign_;
  }
  used_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace gapm::detail
