// slot_index: the host's view of which keys of one table have a row slot, and which slots
// are free. Both store backends use it; the CUDA backend mirrors the key→slot map on the GPU.
//
// Memory follows what a node holds: the table's home keys (every key k with k % stride ==
// residue; all of them on a single node) own the first slots, one each in key order, so
// their slot is computed and only a presence bit is stored; the few other keys a node holds
// (replicas, main copies that moved here) take the slots after them through a flat map — or,
// where it is cheap (small tables, or long rows like MF's), a dense array over the table: one
// load instead of a probe.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>
#include <vector>

#include <gapm/types.hpp>

#include "host/common/flat_key_map.hpp"

namespace gapm::detail {

using slot_type = std::uint32_t;
__extension__ typedef unsigned __int128 uint128;  // GCC and Clang; the high half of a product
inline constexpr std::int64_t no_slot = -1;

/// The keys a node is home for: k % stride == residue; none when stride is 0. And how the
/// others are found: by a dense array when `dense_others` (a small job: option state.dense_mb)
/// or where it takes at most 1/16 of the home rows' bytes, else by a map.
struct home_keys {
  std::uint64_t stride = 0;
  std::uint64_t residue = 0;
  bool dense_others = false;
};

class slot_index {
 public:
  /// `num_keys` keys starting at `first_key`, at most `capacity` of them present at once
  /// (the home keys' slots count whether or not their keys are here); a row takes `row_bytes`.
  slot_index(key_type first_key, std::uint64_t num_keys, std::uint64_t capacity, home_keys home,
             std::size_t row_bytes = 0);

  [[nodiscard]] key_type first_key() const noexcept { return first_key_; }
  [[nodiscard]] std::uint64_t num_keys() const noexcept { return num_keys_; }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }
  /// Slots reserved for the home keys, here or not.
  [[nodiscard]] std::uint64_t home_slots() const noexcept { return home_count_; }
  /// Keys with a slot. Safe to call while another thread inserts or erases (stats).
  [[nodiscard]] std::uint64_t size() const noexcept { return used_.load(std::memory_order_relaxed); }
  /// Slots left for keys this node is not home for.
  [[nodiscard]] std::uint64_t free_slots() const noexcept {
    return capacity_ - home_count_ - foreign_size() - retired_foreign_;
  }
  [[nodiscard]] bool is_home(key_type key) const noexcept { return home_slot(key) >= 0; }

  /// The slot of `key` or no_slot. Readers exclude writers (the node's structure lock).
  [[nodiscard]] std::int64_t slot_of(key_type key) const noexcept {
    const std::int64_t slot = home_slot(key);
    if (slot < 0) {
      if (!dense_foreign_.empty()) return std::atomic_ref<const std::int32_t>(dense_foreign_[key - first_key_]).load(std::memory_order_acquire);
      const std::int32_t* foreign = wide_ ? wide_foreign_.find(key) : narrow_foreign_.find(offset_of(key));
      return foreign == nullptr ? no_slot : *foreign;
    }
    const auto word = static_cast<std::size_t>(slot) / 64;
    return (present_[word].load(std::memory_order_acquire) >> (slot % 64) & 1) != 0 ? slot : no_slot;
  }

  /// Starts loading what slot_of(key) reads (a row operation looks a few keys ahead).
  void prefetch(key_type key) const noexcept {
    const std::int64_t slot = home_slot(key);
    if (slot < 0 && !dense_foreign_.empty()) __builtin_prefetch(&dense_foreign_[key - first_key_]);
    else if (slot < 0 && wide_) wide_foreign_.prefetch(key);
    else if (slot < 0) narrow_foreign_.prefetch(offset_of(key));
    else __builtin_prefetch(&present_[static_cast<std::size_t>(slot) / 64]);
  }

  /// Gives a slot to every key of keys[0..n) that has none (repeated keys get one slot).
  /// All or nothing: when the free slots do not suffice, nothing changes and it returns false.
  /// The newly assigned (key, slot) pairs are appended to `added`. Not thread-safe.
  bool insert(const key_type* keys, std::size_t n, std::vector<key_type>& added_keys,
              std::vector<slot_type>& added_slots);

  /// Frees the slot of `key`; returns it, or no_slot when the key had none. Not thread-safe.
  std::int64_t erase(key_type key);
  /// Takes `key`'s slot away without freeing it (queued work may still read it); returns it,
  /// or no_slot. The slot stays used until release(). Not thread-safe.
  std::int64_t retire(key_type key);
  /// Frees a slot retire() took. Not thread-safe.
  void release(slot_type slot);

  /// The keys with a slot, in key order (readers exclude writers).
  [[nodiscard]] std::vector<key_type> keys() const;

 private:
  // The home slot of `key`, or -1 when it is not a home key.
  [[nodiscard]] std::int64_t home_slot(key_type key) const noexcept {
    if (key < first_home_) return -1;
    const std::uint64_t offset = key - first_home_;
    // No division on this path of every row operation: a shift for a power of two, else a
    // multiplication by the stride's inverse (exact for keys below 2^48).
    const std::uint64_t slot = shift_ >= 0 ? offset >> shift_
                                           : static_cast<std::uint64_t>((static_cast<uint128>(offset) * inverse_) >> 64);
    return slot * stride_ == offset ? static_cast<std::int64_t>(slot) : -1;
  }
  void set_present(std::uint64_t slot, bool present) noexcept;

  key_type first_key_;
  std::uint64_t num_keys_;
  std::uint64_t capacity_;
  std::uint64_t stride_;
  int shift_;                // log2(stride_) when it is a power of two, else -1
  std::uint64_t inverse_;    // else floor(2^64 / stride_) + 1
  key_type first_home_;      // the table's first home key
  std::uint64_t home_count_;  // the table's home keys: slots [0, home_count_)
  std::unique_ptr<std::atomic<std::uint64_t>[]> present_;  // one bit per home slot
  // The other keys with a slot, by their offset from first_key_ where that fits 32 bits (half
  // the bytes per entry), else by key.
  [[nodiscard]] std::uint32_t offset_of(key_type key) const noexcept { return static_cast<std::uint32_t>(key - first_key_); }
  [[nodiscard]] std::size_t foreign_size() const noexcept {
    return !dense_foreign_.empty() ? dense_foreign_count_ : wide_ ? wide_foreign_.size() : narrow_foreign_.size();
  }
  void set_foreign(key_type key, std::int32_t slot);
  bool wide_;
  flat_key_map<std::int32_t, std::uint32_t> narrow_foreign_;
  flat_key_map<std::int32_t, key_type> wide_foreign_;
  std::vector<std::int32_t> dense_foreign_;  // when cheap: key - first_key_ -> slot, -1 (no map then)
  std::size_t dense_foreign_count_ = 0;
  // Free slots for the other keys: those returned (a stack, taken first so that rows stay
  // dense), then the never-used ones from next_unused_ on.
  std::vector<slot_type> free_;
  std::uint64_t next_unused_;
  std::uint64_t retired_foreign_ = 0;  // retired, not yet released
  std::atomic<std::uint64_t> used_{0};
};

}  // namespace gapm::detail
