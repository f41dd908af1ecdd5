// intent_map: (key, worker) -> end clock of the worker's merged intent, in one flat
// open-addressing table (linear probing, backward-shift deletion). Intents come and go by
// the million per second; a node-based map would allocate and free a node for each.
#pragma once

#include <cstdint>
#include <vector>

#include <gapm/types.hpp>

namespace gapm::detail {

class intent_map {
 public:
  intent_map() : slots_(min_slots) {}

  /// Records that `worker` intends `key` until `end`, keeping the larger end.
  void merge(key_type key, int worker, clock_type end) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    std::size_t i = find_slot(key, worker);
    slot& s = slots_[i];
    if (s.worker < 0) {
      s = {key, worker, end};
      ++size_;
    } else if (end > s.end) {
      s.end = end;
    }
  }

  /// The end of `worker`'s intent for `key`, or -1.
  [[nodiscard]] clock_type end_of(key_type key, int worker) const {
    const slot& s = slots_[find_slot(key, worker)];
    return s.worker < 0 ? -1 : s.end;
  }

  /// Forgets `worker`'s intent for `key` (if any).
  void erase(key_type key, int worker) {
    const std::size_t i = find_slot(key, worker);
    if (slots_[i].worker >= 0) erase_at(i);
  }

  /// Forgets `worker`'s intent for `key` if it ended by `clock` (one probe, not two).
  void erase_if_ended(key_type key, int worker, clock_type clock) {
    const std::size_t i = find_slot(key, worker);
    if (slots_[i].worker >= 0 && slots_[i].end <= clock) erase_at(i);
  }

  /// A hint that (key, worker) comes next: the slot is fetched while earlier keys are worked
  /// on. Batches of random keys are bound by cache misses, and this overlaps them.
  void prefetch(key_type key, int worker) const noexcept {
    __builtin_prefetch(&slots_[hash(key, worker) & (slots_.size() - 1)]);
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return slots_.size(); }
  [[nodiscard]] std::size_t memory_bytes() const noexcept { return slots_.size() * sizeof(slot); }

  /// Gives memory back once most entries are gone (below 1/8 full: to 1/4 full), so that a
  /// moving working set does not leave the table at its peak size.
  void shrink_if_sparse() {
    if (slots_.size() <= min_slots || size_ * 8 >= slots_.size()) return;
    std::size_t target = min_slots;
    while (target < size_ * 4) target *= 2;
    rehash(target);
  }

 private:
  struct slot {
    key_type key = 0;
    int worker = -1;  // -1: empty
    clock_type end = 0;
  };

  void erase_at(std::size_t i) {
    // Backward-shift deletion: pull later entries of the probe run into the hole.
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t j = (i + 1) & mask; slots_[j].worker >= 0; j = (j + 1) & mask) {
      const std::size_t home = hash(slots_[j].key, slots_[j].worker) & mask;
      // Move j into the hole at i unless its home lies cyclically in (i, j].
      if (((j - home) & mask) >= ((j - i) & mask)) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i].worker = -1;
    --size_;
  }

  static std::size_t hash(key_type key, int worker) noexcept {
    std::uint64_t h = (key ^ (static_cast<std::uint64_t>(worker) << 56)) * 0x9e3779b97f4a7c15ull;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }

  std::size_t find_slot(key_type key, int worker) const {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = hash(key, worker) & mask;
    while (slots_[i].worker >= 0 && (slots_[i].key != key || slots_[i].worker != worker)) i = (i + 1) & mask;
    return i;
  }

  static constexpr std::size_t min_slots = 16;

  void grow() { rehash(slots_.size() * 2); }

  void rehash(std::size_t slots) {
    std::vector<slot> old(slots);
    old.swap(slots_);
    size_ = 0;
    for (const slot& s : old)
      if (s.worker >= 0) merge(s.key, s.worker, s.end);
  }

  std::vector<slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace gapm::detail
