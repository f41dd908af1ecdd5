// cpu_store<T>: rows in host memory. The reference backend and the GPU kernels' test oracle.
//
// Rows live in fixed-size chunks that are allocated on first use, so a node pays memory only
// for the slots it fills and row addresses never move. Each row operation holds one of
// 4096 striped spin locks for its row, which makes every row read and update atomic.
#pragma once

#include <cstdlib>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "host/store/store_backend.hpp"

namespace gapm::detail {

template <class T>
class cpu_store final : public store_backend<T> {
 public:
  cpu_store(key_type first_key, std::uint64_t num_keys, std::uint32_t row_length, std::uint64_t capacity,
            home_keys home = {});

  [[nodiscard]] std::string_view name() const noexcept override { return "cpu"; }
  bool insert(const key_type* keys, std::size_t n) override;
  void erase(const key_type* keys, std::size_t n) override;
  void gather(const key_type* keys, std::size_t n, T* out, stream_view stream) override;
  void scatter_add(const key_type* keys, std::size_t n, const T* deltas, stream_view stream) override;
  void assign(const key_type* keys, std::size_t n, const T* values, stream_view stream) override;
  void extract_delta(const key_type* keys, std::size_t n, T* deltas, stream_view stream) override;
  void measure_delta(const key_type* keys, std::size_t n, delta_measure* out, bool with_norm,
                     stream_view stream) override;
  void refresh_merge(const key_type* keys, std::size_t n, const T* main, stream_view stream) override;
  void apply_step(const key_type* keys, std::size_t n, const T* grads, const step_constants<T>& step,
                  stream_view stream) override;
  void synchronize(stream_view) override {}
  void order_after_queued_work(stream_view) override {}  // every write is done on return

 private:
  static constexpr std::size_t num_stripes = 4096;
  static constexpr std::size_t huge_page = 2u << 20;
  // Replicas' sync_state comes in blocks of this many slots: replicas take whatever slots are
  // free, scattered over the table, and a chunk-sized block per replica would cost as much
  // memory as the values.
  static constexpr std::size_t sync_block_rows = 16;

  // Rows per chunk: at least 16 Ki rows, and exactly as many as whole huge pages hold, so
  // that no chunk carries a partly used page (a 1 MiB chunk would take 2 MiB).
  [[nodiscard]] static std::size_t chunk_rows(std::uint32_t row_length) noexcept;

  // Held for the few nanoseconds one row takes, so waiters spin rather than sleep.
  struct alignas(64) stripe_lock {
    std::atomic<bool> locked{false};
    void lock() noexcept {
      while (locked.exchange(true, std::memory_order_acquire))
        while (locked.load(std::memory_order_relaxed)) __builtin_ia32_pause();
    }
    void unlock() noexcept { locked.store(false, std::memory_order_release); }
  };

  // Zero-filled chunk memory, 2 MiB aligned and marked for transparent huge pages: rows
  // are read at random, and 4 KiB pages would cost a TLB miss on nearly every row.
  struct chunk_deleter {
    void operator()(T* chunk) const noexcept { std::free(chunk); }
  };
  using chunk_ptr = std::unique_ptr<T[], chunk_deleter>;
  [[nodiscard]] chunk_ptr allocate_chunk() const;

  // Runs op(value_row, sync_row_or_null, i) for every key, holding the row's lock.
  template <class Op>
  void for_each_row(const key_type* keys, std::size_t n, bool with_sync, Op op);
  void ensure_chunks(const std::vector<slot_type>& slots);
  // The value row of `slot` (its chunk exists). The chunk number comes from a precomputed
  // reciprocal (Lemire's fastdiv, exact for 32-bit slots): a hardware division by the
  // run-time chunk size would cost more than copying a short row.
  [[nodiscard]] T* value_row(std::size_t slot) const noexcept {
    __extension__ using wide = unsigned __int128;
    const auto chunk = static_cast<std::size_t>((static_cast<wide>(chunk_reciprocal_) * slot) >> 64);
    return value_chunks_[chunk].get() + (slot - chunk * rows_per_chunk_) * this->row_length_;
  }
  // The sync_state row of `slot`, allocating its block; call with sync_alloc_mutex_ held.
  T* sync_row(std::size_t slot);

  const std::size_t rows_per_chunk_;
  const std::uint64_t chunk_reciprocal_ = ~std::uint64_t{0} / rows_per_chunk_ + 1;  // rows_per_chunk_ > 1
  std::vector<chunk_ptr> value_chunks_;
  // Replica sync_state by block: allocated when a slot of the block first needs it, freed when
  // the last such slot is erased; sync_users_ marks those slots (bit i: slot block * 16 + i).
  std::vector<std::unique_ptr<T[]>> sync_blocks_;
  std::vector<std::uint16_t> sync_users_;
  std::mutex sync_alloc_mutex_;
  std::unique_ptr<stripe_lock[]> stripes_;
};

}  // namespace gapm::detail
