// row_store<T>: the rows of every table of one node, and the row operations on key batches
// that mix tables: each run of keys of one table goes to that table's store backend
// (cpu_store or cuda_store). The batch operations take keys and rows in host memory and are
// complete when they return; the worker's fast path uses each_table_run() with its own stream.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include <gapm/options.hpp>
#include <gapm/types.hpp>

#include "host/common/key_space.hpp"
#include "host/store/store_backend.hpp"

namespace gapm::detail {

template <class T>
class row_store {
 public:
  /// One backend of `kind` per table, each with no rows yet. `device` picks the GPU;
  /// `replicas_possible` says whether this node may hold replicas (their sync_state).
  row_store(const key_space& keys, store_kind kind, home_keys home, const Options& options, int device,
            bool replicas_possible);

  [[nodiscard]] std::size_t num_tables() const noexcept { return tables_.size(); }
  [[nodiscard]] store_backend<T>& table(std::size_t t) noexcept { return *tables_[t]; }
  [[nodiscard]] const store_backend<T>& table(std::size_t t) const noexcept { return *tables_[t]; }
  [[nodiscard]] std::string_view name() const noexcept { return tables_.front()->name(); }
  [[nodiscard]] bool has_row(key_type key) const noexcept { return tables_[keys_.table_of(key)]->contains(key); }
  /// Whether `key` may be given a row now (store_backend::can_insert).
  [[nodiscard]] bool can_insert(key_type key) const { return tables_[keys_.table_of(key)]->can_insert(key); }

  /// Calls fn(table, first, count, value_offset) for every run of keys[0..n) of one table.
  template <class Fn>
  void each_table_run(const key_type* keys, std::size_t n, Fn fn) const {
    std::size_t value_offset = 0;
    for (std::size_t begin = 0; begin < n;) {
      const std::size_t t = keys_.table_of(keys[begin]);
      std::size_t end = begin + 1;
      while (end < n && keys_.table_of(keys[end]) == t) ++end;
      fn(t, begin, end - begin, value_offset);
      value_offset += (end - begin) * keys_.table(t).row_length;
      begin = end;
    }
  }

  // Row operations on held keys (keys and rows in host memory, rows concatenated in key order).
  /// `stream`: after the work enqueued on it so far (a worker's part of a pull_async).
  void gather(const key_type* keys, std::size_t n, T* out, stream_view stream = {});
  void add(const key_type* keys, std::size_t n, const T* deltas);
  void assign(const key_type* keys, std::size_t n, const T* values);
  /// Replica sync: deltas = value - sync_state; sync_state = value.
  void extract_deltas(const key_type* keys, std::size_t n, T* deltas);
  /// Replica sync: out[i] = the measure of keys[i]'s delta (the squares only `with_norm`),
  /// which stays where it is.
  void measure_deltas(const key_type* keys, std::size_t n, delta_measure* out, bool with_norm);
  /// Replica sync: value = main + (value - sync_state); sync_state = main.
  void refresh(const key_type* keys, std::size_t n, const T* main);

  /// A fused optimizer step on distinct keys (grads: the parameter part of each row).
  void apply_step(const key_type* keys, std::size_t n, const T* grads, const step_constants<T>& step);

  /// Gives a zero-filled row to each of `keys` (distinct, without a row) whose table's slot
  /// pool has room and that can have one now (store_backend::can_insert), one batch per table;
  /// removes the keys that got none from `keys`: their accesses stay remote for now.
  void insert_where_room(std::vector<key_type>& keys);
  /// Frees the rows of keys[0..n), one batch per table.
  void erase(const key_type* keys, std::size_t n);

  /// Waits for the work ordered on `stream` (the CUDA store; a no-op on the CPU).
  void synchronize(stream_view stream) { tables_.front()->synchronize(stream); }

  /// The batch operations of the calling thread from now on see every write enqueued so far
  /// on any stream (store_backend::order_after_queued_work): before a read that moves a key.
  void order_after_queued_writes() {
    for (auto& t : tables_) t->order_after_queued_work({});
  }

  [[nodiscard]] std::uint64_t slots_used() const noexcept;
  [[nodiscard]] std::uint64_t slots_capacity() const noexcept;

 private:
  template <class Op>
  void each_run(const key_type* keys, std::size_t n, Op op, stream_view stream = {});

  const key_space& keys_;
  std::vector<std::unique_ptr<store_backend<T>>> tables_;
};

}  // namespace gapm::detail
