// store_backend<T>: the rows of one table on one node, in host or GPU memory.
//
// Two implementations: cpu_store (host/, the reference and the test oracle) and cuda_store
// (cuda/, rows in a device slot pool). The node serialises insert/erase against row
// operations on the same keys; row operations may run concurrently from many threads.
#pragma once

#include <cstdint>
#include <string_view>

#include <gapm/types.hpp>

#include "host/common/delta_measure.hpp"
#include "host/common/optimizer_math.hpp"
#include "host/store/slot_index.hpp"

namespace gapm::detail {

template <class T>
class store_backend {
 public:
  virtual ~store_backend() = default;
  store_backend(const store_backend&) = delete;
  store_backend& operator=(const store_backend&) = delete;

  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  [[nodiscard]] std::uint32_t row_length() const noexcept { return row_length_; }
  [[nodiscard]] const slot_index& index() const noexcept { return index_; }
  [[nodiscard]] bool contains(key_type key) const noexcept { return index_.slot_of(key) >= 0; }

  /// Gives zero-filled rows to the keys (host memory) that have none. All or nothing:
  /// returns false, changing nothing, when the pool has too few free slots or a key cannot
  /// have a row yet (can_insert).
  virtual bool insert(const key_type* keys, std::size_t n) = 0;
  /// Frees the rows of the keys (host memory) that have one.
  virtual void erase(const key_type* keys, std::size_t n) = 0;
  /// Slots an insert of keys this node is not home for can take now (a home key always has
  /// its own; the device store first takes back the rows of erased keys that no queued work
  /// reads any more).
  [[nodiscard]] virtual std::uint64_t free_slots() { return index_.free_slots(); }
  /// Whether `key` may have a row now: not while queued work may still read its previous one.
  [[nodiscard]] virtual bool can_insert(key_type) const { return true; }

  // Row operations. Precondition: every key is present. `keys` holds n keys and every row
  // buffer n * row_length() values, rows in key order. In the CUDA backend any of them may
  // be device memory; the work is ordered on `stream`, and the call synchronises that stream
  // only when a buffer is in host memory (to stage it).

  /// out[i] = value[keys[i]]
  virtual void gather(const key_type* keys, std::size_t n, T* out, stream_view stream) = 0;
  /// value[keys[i]] += deltas[i]; repeated keys add up.
  virtual void scatter_add(const key_type* keys, std::size_t n, const T* deltas, stream_view stream) = 0;
  /// value[keys[i]] = values[i]; for repeated keys the last row wins.
  virtual void assign(const key_type* keys, std::size_t n, const T* values, stream_view stream) = 0;
  /// Replica sync, send side: deltas[i] = value - sync_state; sync_state = value.
  /// Exact under concurrent scatter_add: an add that misses this read is sent next round.
  virtual void extract_delta(const key_type* keys, std::size_t n, T* deltas, stream_view stream) = 0;
  /// Replica sync, the decision whether a delta travels: out[i] = the measure of value -
  /// sync_state of keys[i]'s row (n measures, with the squares only `with_norm`; in the CUDA
  /// backend `out` may be device memory). Changes nothing: a delta that does not travel stays
  /// in the replica.
  virtual void measure_delta(const key_type* keys, std::size_t n, delta_measure* out, bool with_norm,
                             stream_view stream) = 0;
  /// Replica sync, refresh side: value = main + (value - sync_state); sync_state = main.
  virtual void refresh_merge(const key_type* keys, std::size_t n, const T* main, stream_view stream) = 0;

  /// A fused optimizer step (gapm::optimizer_step): value += the step's deltas, computed from
  /// the row as it is, each row atomically. Keys are distinct; grads hold n * row_length() /
  /// row_factor values.
  virtual void apply_step(const key_type* keys, std::size_t n, const T* grads, const step_constants<T>& step,
                          stream_view stream) = 0;

  /// Waits until the work this backend ordered on `stream` has finished.
  virtual void synchronize(stream_view stream) = 0;

  /// Orders the work enqueued on `stream` after this call behind every row operation enqueued
  /// so far on any stream: a read that changes where a key lives (a relocation's gather, a
  /// dropped replica's last delta, the first replica of a main copy) must see the writes
  /// still queued on a user's stream (push_async), or they would land in a retired row.
  virtual void order_after_queued_work(stream_view stream) = 0;

 protected:
  store_backend(key_type first_key, std::uint64_t num_keys, std::uint32_t row_length,
                std::uint64_t capacity, home_keys home)
      : row_length_{row_length}, index_{first_key, num_keys, capacity, home, std::size_t{row_length} * sizeof(T)} {}

  std::uint32_t row_length_;
  slot_index index_;
};

}  // namespace gapm::detail
