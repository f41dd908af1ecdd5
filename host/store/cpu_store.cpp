#include "host/store/cpu_store.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>

#include <sys/mman.h>

#include <gapm/errors.hpp>

#include "host/common/value_type.hpp"

namespace gapm::detail {

template <class T>
cpu_store<T>::cpu_store(key_type first_key, std::uint64_t num_keys, std::uint32_t row_length,
                        std::uint64_t capacity, home_keys home)
    : store_backend<T>{first_key, num_keys, row_length, capacity, home},
      rows_per_chunk_{chunk_rows(row_length)},
      value_chunks_((capacity + rows_per_chunk_ - 1) / rows_per_chunk_),
      sync_blocks_((capacity + sync_block_rows - 1) / sync_block_rows),
      sync_users_(sync_blocks_.size()),
      stripes_{std::make_unique<stripe_lock[]>(num_stripes)} {}

template <class T>
std::size_t cpu_store<T>::chunk_rows(std::uint32_t row_length) noexcept {
  const std::size_t row_bytes = std::size_t{row_length} * sizeof(T);
  const std::size_t pages = (std::size_t{1 << 14} * row_bytes + huge_page - 1) / huge_page;
  return pages * huge_page / row_bytes;
}

template <class T>
typename cpu_store<T>::chunk_ptr cpu_store<T>::allocate_chunk() const {
  const std::size_t bytes = rows_per_chunk_ * this->row_length_ * sizeof(T);
  const std::size_t rounded = (bytes + huge_page - 1) / huge_page * huge_page;  // < one row more
  void* memory = std::aligned_alloc(huge_page, rounded);
  if (memory == nullptr) throw std::bad_alloc();
  ::madvise(memory, rounded, MADV_HUGEPAGE);  // a hint: without THP the chunk still works
  std::memset(memory, 0, rounded);
  return chunk_ptr{static_cast<T*>(memory)};
}

template <class T>
void cpu_store<T>::ensure_chunks(const std::vector<slot_type>& slots) {
  for (slot_type slot : slots) {
    auto& chunk = value_chunks_[slot / rows_per_chunk_];
    if (!chunk) chunk = allocate_chunk();
  }
}

template <class T>
bool cpu_store<T>::insert(const key_type* keys, std::size_t n) {
  std::vector<key_type> added_keys;
  std::vector<slot_type> added_slots;
  if (!this->index_.insert(keys, n, added_keys, added_slots)) return false;
  ensure_chunks(added_slots);
  // A reused slot may still hold an old row.
  for (slot_type slot : added_slots) std::fill_n(value_row(slot), this->row_length_, T{});
  return true;
}

template <class T>
void cpu_store<T>::erase(const key_type* keys, std::size_t n) {
  std::lock_guard guard{sync_alloc_mutex_};
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t slot = this->index_.erase(keys[i]);
    if (slot == no_slot) continue;
    const auto block = static_cast<std::size_t>(slot) / sync_block_rows;
    sync_users_[block] = static_cast<std::uint16_t>(sync_users_[block] & ~(1u << (slot % sync_block_rows)));
    if (sync_users_[block] == 0) sync_blocks_[block].reset();
  }
}

template <class T>
T* cpu_store<T>::sync_row(std::size_t slot) {
  const std::size_t block = slot / sync_block_rows, len = this->row_length_;
  const auto bit = static_cast<std::uint16_t>(1u << (slot % sync_block_rows));
  if (!sync_blocks_[block]) sync_blocks_[block] = std::make_unique<T[]>(sync_block_rows * len);  // zeroed
  T* row = sync_blocks_[block].get() + (slot % sync_block_rows) * len;
  if (!(sync_users_[block] & bit)) {  // a slot's first use since it was given out: a fresh start
    std::fill_n(row, len, T{});
    sync_users_[block] = static_cast<std::uint16_t>(sync_users_[block] | bit);
  }
  return row;
}

template <class T>
template <class Op>
void cpu_store<T>::for_each_row(const key_type* keys, std::size_t n, bool with_sync, Op op) {
  const std::size_t len = this->row_length_;
  // sync_state blocks are created here, so replica sync calls hold the allocation mutex
  // (they come from the sync threads, a few calls per round; pulls and pushes never take it).
  std::unique_lock<std::mutex> sync_guard;
  if (with_sync) sync_guard = std::unique_lock{sync_alloc_mutex_};
  // Rows are scattered: prefetch the row (its first lines) and its lock a few keys ahead so
  // that the memory latency of one row hides behind the work on the previous ones.
  constexpr std::size_t distance = 8;
  const std::size_t lines = std::min<std::size_t>((len * sizeof(T) + 63) / 64, 4);
  auto prefetch = [&](std::size_t i) {
    const auto slot = static_cast<std::size_t>(this->index_.slot_of(keys[i]));
    const char* row = reinterpret_cast<const char*>(value_row(slot));
    for (std::size_t line = 0; line < lines; ++line) __builtin_prefetch(row + 64 * line, 1);
    __builtin_prefetch(&stripes_[slot % num_stripes], 1);
  };
  // Two stages: the index entry of the key 2 * distance ahead, the row of the one distance ahead.
  for (std::size_t i = 0; i < std::min(2 * distance, n); ++i) this->index_.prefetch(keys[i]);
  for (std::size_t i = 0; i < std::min(distance, n); ++i) prefetch(i);
  for (std::size_t i = 0; i < n; ++i) {
    if (i + 2 * distance < n) this->index_.prefetch(keys[i + 2 * distance]);
    if (i + distance < n) prefetch(i + distance);
    const auto slot = static_cast<std::size_t>(this->index_.slot_of(keys[i]));
    T* sync = with_sync ? sync_row(slot) : nullptr;
    stripe_lock& lock = stripes_[slot % num_stripes];
    lock.lock();
    op(value_row(slot), sync, i);
    lock.unlock();
  }
}

template <class T>
void cpu_store<T>::gather(const key_type* keys, std::size_t n, T* out, stream_view) {
  const std::size_t len = this->row_length_;
  for_each_row(keys, n, false, [&](const T* row, T*, std::size_t i) {
    std::memcpy(out + i * len, row, len * sizeof(T));
  });
}

template <class T>
void cpu_store<T>::scatter_add(const key_type* keys, std::size_t n, const T* deltas, stream_view) {
  const std::size_t len = this->row_length_;
  for_each_row(keys, n, false, [&](T* row, T*, std::size_t i) {
    const T* delta = deltas + i * len;
    for (std::size_t j = 0; j < len; ++j) row[j] = wrapping_add(row[j], delta[j]);
  });
}

template <class T>
void cpu_store<T>::assign(const key_type* keys, std::size_t n, const T* values, stream_view) {
  const std::size_t len = this->row_length_;
  for_each_row(keys, n, false, [&](T* row, T*, std::size_t i) {
    std::memcpy(row, values + i * len, len * sizeof(T));
  });
}

template <class T>
void cpu_store<T>::extract_delta(const key_type* keys, std::size_t n, T* deltas, stream_view) {
  const std::size_t len = this->row_length_;
  for_each_row(keys, n, true, [&](T* row, T* sync, std::size_t i) {
    T* delta = deltas + i * len;
    for (std::size_t j = 0; j < len; ++j) {
      delta[j] = wrapping_sub(row[j], sync[j]);
      sync[j] = row[j];
    }
  });
}

template <class T>
void cpu_store<T>::measure_delta(const key_type* keys, std::size_t n, delta_measure* out, bool with_norm,
                                 stream_view) {
  const std::size_t len = this->row_length_;
  for_each_row(keys, n, true, [&](T* row, T* sync, std::size_t i) {
    delta_measure m;  // the row is ours while we look (its stripe's lock): compare its bytes
    m.changed = std::memcmp(row, sync, len * sizeof(T)) != 0 ? 1 : 0;
    if (with_norm && m.changed != 0)
      m.squares = delta_measure::squares_of(len, [&](std::size_t j) { return wrapping_sub(row[j], sync[j]); });
    out[i] = m;
  });
}

template <class T>
void cpu_store<T>::refresh_merge(const key_type* keys, std::size_t n, const T* main, stream_view) {
  const std::size_t len = this->row_length_;
  for_each_row(keys, n, true, [&](T* row, T* sync, std::size_t i) {
    const T* fresh = main + i * len;
    for (std::size_t j = 0; j < len; ++j) {
      row[j] = wrapping_add(fresh[j], wrapping_sub(row[j], sync[j]));
      sync[j] = fresh[j];
    }
  });
}

template <class T>
void cpu_store<T>::apply_step(const key_type* keys, std::size_t n, const T* grads, const step_constants<T>& step,
                              stream_view) {
  const std::size_t len = this->row_length_;
  const std::size_t d = len / step.factor;
  std::vector<T> delta(len);
  for_each_row(keys, n, false, [&](T* row, T*, std::size_t i) {
    for (std::size_t j = 0; j < d; ++j) step_deltas(step, row, grads[i * d + j], d, j, delta.data());
    for (std::size_t j = 0; j < len; ++j) row[j] = wrapping_add(row[j], delta[j]);
  });
}

template class cpu_store<float>;
template class cpu_store<double>;
template class cpu_store<std::int64_t>;

}  // namespace gapm::detail
