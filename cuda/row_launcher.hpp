// row_launcher<T>: the row kernels as the device store calls them, and the one generic
// implementation that turns each call into a function object of cuda/row_ops.hpp run over a
// flat index range by an Executor:
//   - cuda_executor (cuda/row_kernels.cu): a grid-stride kernel on a CUDA stream;
//   - emulated_executor (cuda/emulation/): a loop in a task of an emulated stream.
// All the choices (copy width, sizes, empty batches) are made here, once, for both.
//
// Keys and row buffers are device memory; the work is enqueued on `stream`.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/device_runtime.hpp"
#include "cuda/row_ops.hpp"

namespace gapm::detail {

template <class T>
class row_launcher {
 public:
  virtual ~row_launcher() = default;

  /// out[i] = value[keys[i]]
  virtual void gather(const device_rows<T>& rows, const key_type* keys, std::size_t n, T* out,
                      device_stream stream) = 0;
  /// value[keys[i]] = values[i] (distinct keys)
  virtual void assign(const device_rows<T>& rows, const key_type* keys, std::size_t n, const T* values,
                      device_stream stream) = 0;
  /// value[keys[i]] += deltas[i]
  virtual void scatter_add(const device_rows<T>& rows, const key_type* keys, std::size_t n, const T* deltas,
                           device_stream stream) = 0;
  /// deltas[i] = value - sync_state; sync_state = value (distinct keys)
  virtual void extract_delta(const device_rows<T>& rows, const key_type* keys, std::size_t n, T* deltas,
                             device_stream stream) = 0;
  /// out[i] = the measure of keys[i]'s value - sync_state (the squares only `with_norm`)
  virtual void measure_delta(const device_rows<T>& rows, const key_type* keys, std::size_t n, delta_measure* out,
                             bool with_norm, device_stream stream) = 0;
  /// value = main + (value - sync_state); sync_state = main (distinct keys)
  virtual void refresh_merge(const device_rows<T>& rows, const key_type* keys, std::size_t n, const T* main,
                             device_stream stream) = 0;
  /// A fused optimizer step (distinct keys; grads: the parameter part of each row).
  virtual void step(const device_rows<T>& rows, const key_type* keys, std::size_t n, const T* grads,
                    const step_constants<T>& constants, device_stream stream) = 0;
  /// Zeroes the rows at slots[0..n) of `pool`.
  virtual void zero(T* pool, std::uint32_t row_length, const std::int32_t* slots, std::size_t n,
                    device_stream stream) = 0;
  /// index[keys[i] - first_key] = slots[i] (-1 removes the key).
  virtual void update_index(std::int32_t* index, key_type first_key, const key_type* keys,
                            const std::int32_t* slots, std::size_t n, device_stream stream) = 0;
};

/// The launcher on an Executor with `template <class Op> void run(std::size_t total, const
/// Op& op, device_stream stream)`, which calls op(i) for every i in [0, total) in stream order.
template <class T, class Executor>
class generic_row_launcher final : public row_launcher<T> {
 public:
  explicit generic_row_launcher(Executor executor) : run_{std::move(executor)} {}

  void gather(const device_rows<T>& rows, const key_type* keys, std::size_t n, T* out, device_stream stream) override {
    copy<false>(rows, keys, n, out, stream);
  }
  void assign(const device_rows<T>& rows, const key_type* keys, std::size_t n, const T* values,
              device_stream stream) override {
    copy<true>(rows, keys, n, const_cast<T*>(values), stream);  // only read in this direction
  }
  void scatter_add(const device_rows<T>& rows, const key_type* keys, std::size_t n, const T* deltas,
                   device_stream stream) override {
    run_(n * rows.row_length, row_ops::add_rows<T>{rows, keys, deltas}, stream);
  }
  void extract_delta(const device_rows<T>& rows, const key_type* keys, std::size_t n, T* deltas,
                     device_stream stream) override {
    run_(n * rows.row_length, row_ops::extract_delta_rows<T>{rows, keys, deltas}, stream);
  }
  void measure_delta(const device_rows<T>& rows, const key_type* keys, std::size_t n, delta_measure* out,
                     bool with_norm, device_stream stream) override {
    run_(n, row_ops::measure_delta_rows<T>{rows, keys, out, with_norm}, stream);
  }
  void refresh_merge(const device_rows<T>& rows, const key_type* keys, std::size_t n, const T* main,
                     device_stream stream) override {
    run_(n * rows.row_length, row_ops::refresh_merge_rows<T>{rows, keys, main}, stream);
  }
  void step(const device_rows<T>& rows, const key_type* keys, std::size_t n, const T* grads,
            const step_constants<T>& constants, device_stream stream) override {
    run_(n * (rows.row_length / constants.factor), row_ops::step_rows<T>{rows, keys, grads, constants}, stream);
  }
  void zero(T* pool, std::uint32_t row_length, const std::int32_t* slots, std::size_t n,
            device_stream stream) override {
    run_(n * row_length, row_ops::zero_rows<T>{pool, row_length, slots}, stream);
  }
  void update_index(std::int32_t* index, key_type first_key, const key_type* keys, const std::int32_t* slots,
                    std::size_t n, device_stream stream) override {
    run_(n, row_ops::update_index{index, first_key, keys, slots}, stream);
  }

 private:
  static bool aligned(const void* ptr, std::size_t bytes) { return reinterpret_cast<std::uintptr_t>(ptr) % bytes == 0; }

  // Gather or assign with the widest unit the row size and both buffers allow: pure copies
  // then move 16-byte vectors, and short rows still keep every lane busy.
  template <bool ToRows>
  void copy(const device_rows<T>& rows, const key_type* keys, std::size_t n, T* packed, device_stream stream) {
    const std::size_t row_bytes = rows.row_length * sizeof(T);
    auto with = [&]<std::size_t Bytes>() {
      using unit = row_ops::copy_unit<Bytes>;
      const auto units = static_cast<std::uint32_t>(row_bytes / Bytes);
      run_(n * units,
           row_ops::copy_rows<Bytes, ToRows>{rows.index, rows.first_key, keys, reinterpret_cast<unit*>(rows.values),
                                             units, reinterpret_cast<unit*>(packed)},
           stream);
    };
    if (row_bytes % 16 == 0 && aligned(packed, 16) && aligned(rows.values, 16)) {
      with.template operator()<16>();
    } else if (row_bytes % 8 == 0 && aligned(packed, 8) && aligned(rows.values, 8)) {
      with.template operator()<8>();
    } else {
      with.template operator()<4>();  // every row is a whole number of 4-byte words
    }
  }

  Executor run_;
};

}  // namespace gapm::detail
