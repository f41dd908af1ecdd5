// slot_index: the host's view of which keys of one table have a row slot, and which slots
// are free. Both store backends use it; the CUDA backend mirrors the key→slot map on the GPU.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include <gapm/types.hpp>

namespace gapm::detail {

using slot_type = std::uint32_t;
inline constexpr std::int64_t no_slot = -1;

class slot_index {
 public:
  /// `num_keys` keys starting at `first_key`, at most `capacity` of them present at once.
  slot_index(key_type first_key, std::uint64_t num_keys, std::uint64_t capacity);

  [[nodiscard]] key_type first_key() const noexcept { return first_key_; }
  [[nodiscard]] std::uint64_t num_keys() const noexcept { return slots_.size(); }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }
  /// Keys with a slot. Safe to call while another thread inserts or erases (stats).
  [[nodiscard]] std::uint64_t size() const noexcept { return used_.load(std::memory_order_relaxed); }

  /// The slot of `key` or no_slot. Safe to call while another thread inserts or erases.
  [[nodiscard]] std::int64_t slot_of(key_type key) const noexcept {
    return std::atomic_ref<const std::int32_t>(slots_[key - first_key_]).load(std::memory_order_acquire);
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

  /// The whole host map, indexed by key - first_key (for mirroring and saving).
  [[nodiscard]] const std::vector<std::int32_t>& slots() const noexcept { return slots_; }

 private:
  key_type first_key_;
  std::uint64_t capacity_;
  std::vector<std::int32_t> slots_;  // key - first_key -> slot, -1 when absent
  // Free slots: those returned (a stack, taken first so that rows stay dense), then the
  // never-used slots from next_unused_ on. No list of all slots: that would cost 4 bytes per
  // slot of capacity up front.
  std::vector<slot_type> free_;
  std::uint64_t next_unused_ = 0;
  std::atomic<std::uint64_t> used_{0};
};

}  // namespace gapm::detail
