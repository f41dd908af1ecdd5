// The row kernels. Gather and assign are pure copies, so they move 16-, 8- or 4-byte
// vectors (whatever the row size and the buffers' alignment allow) with a flat grid-stride
// loop over (row, vector) pairs: short rows keep every lane busy, long rows stream. The
// additive kernels use atomics, so repeated keys in one batch and concurrent pushes from
// other streams add up exactly (bit-exact for int64).
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/row_kernels.hpp"

namespace gapm::detail::kernels {

template <class T>
__device__ __forceinline__ void atomic_add(T* address, T value) {
  if constexpr (std::is_same_v<T, std::int64_t>) {
    atomicAdd(reinterpret_cast<unsigned long long*>(address), static_cast<unsigned long long>(value));
  } else {
    atomicAdd(address, value);
  }
}

__device__ __forceinline__ std::size_t slot_of(const std::int32_t* index, key_type first_key, key_type key) {
  return static_cast<std::size_t>(index[key - first_key]);
}

/// Gather (ToRows = false): out[row] = pool[slot(key[row])]; assign (ToRows = true): the reverse.
/// `vecs_per_row` units of Vec make one row.
template <class Vec, bool ToRows>
__global__ void copy_rows(const std::int32_t* index, key_type first_key, const key_type* keys, std::size_t n,
                          Vec* pool, std::uint32_t vecs_per_row, Vec* packed) {
  const std::size_t total = n * vecs_per_row;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const std::size_t row = i / vecs_per_row;
    const std::size_t part = i - row * vecs_per_row;
    Vec* slot_row = pool + slot_of(index, first_key, keys[row]) * vecs_per_row;
    if constexpr (ToRows) {
      slot_row[part] = packed[i];
    } else {
      packed[i] = slot_row[part];
    }
  }
}

/// Calls op(rows, at, i) for every value i of the batch, `at` being its index in the pool:
/// the one grid-stride loop behind the additive and the replica kernels.
template <class T, class Op>
__global__ void for_each_value(device_rows_ref<T> rows, const key_type* keys, std::size_t n, Op op) {
  const std::size_t len = rows.row_length;
  const std::size_t total = n * len;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const std::size_t row = i / len;
    op(rows, slot_of(rows.index, rows.first_key, keys[row]) * len + (i - row * len), i);
  }
}

/// value += deltas[i]
template <class T>
struct add_op {
  const T* deltas;
  __device__ void operator()(device_rows_ref<T> rows, std::size_t at, std::size_t i) const {
    atomic_add(rows.values + at, deltas[i]);
  }
};

/// deltas[i] = value - sync_state; sync_state = value. One read of each value, so an add
/// that lands after it is counted in the next round, never twice.
template <class T>
struct extract_delta_op {
  T* deltas;
  __device__ void operator()(device_rows_ref<T> rows, std::size_t at, std::size_t i) const {
    const T value = *static_cast<volatile T*>(rows.values + at);
    deltas[i] = value - rows.sync_state[at];
    rows.sync_state[at] = value;
  }
};

/// value += main - sync_state (atomically, so concurrent pushes survive); sync_state = main.
template <class T>
struct refresh_merge_op {
  const T* main;
  __device__ void operator()(device_rows_ref<T> rows, std::size_t at, std::size_t i) const {
    atomic_add(rows.values + at, static_cast<T>(main[i] - rows.sync_state[at]));
    rows.sync_state[at] = main[i];
  }
};

/// One thread per parameter value: its step's deltas, added atomically (concurrent pushes
/// to the row from other streams add up exactly).
template <class T>
__global__ void step_rows(device_rows_ref<T> rows, const key_type* keys, std::size_t n, const T* grads,
                          step_constants<T> step) {
  const std::size_t len = rows.row_length;
  const std::size_t d = len / step.factor;
  const std::size_t total = n * d;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const std::size_t row = i / d, j = i - row * d;
    T* values = rows.values + slot_of(rows.index, rows.first_key, keys[row]) * len;
    T mine[3] = {values[j], step.factor > 1 ? values[d + j] : T{}, step.factor > 2 ? values[2 * d + j] : T{}};
    T delta[3] = {};
    step_deltas(step, mine, grads[i], 1, 0, delta);
    for (std::uint32_t part = 0; part < step.factor; ++part) atomic_add(values + part * d + j, delta[part]);
  }
}

__global__ inline void update_index(std::int32_t* index, key_type first_key, const key_type* keys,
                                    const std::int32_t* slots, std::size_t n) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) index[keys[i] - first_key] = slots[i];
}

template <class T>
__global__ void zero_rows(T* pool, std::uint32_t row_length, const std::int32_t* slots, std::size_t n) {
  const std::size_t total = n * row_length;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const std::size_t row = i / row_length;
    pool[static_cast<std::size_t>(slots[row]) * row_length + (i - row * row_length)] = T{};
  }
}

}  // namespace gapm::detail::kernels
