// The bodies of the row kernels: one function object per kernel whose operator()(i) does the
// work of flat index i. The CUDA launcher runs them in a grid-stride loop on the device
// (cuda/row_kernels.cu); the host emulation runs the same objects in a loop on a stream's
// thread (cuda/emulation/). So every line here runs in CPU-only CI.
//
// Rows are addressed through the device key→slot index: the row of key k is
// pool[index[k - first_key] * row_length ...]. A key without a slot (-1) is skipped: a
// kernel never indexes with a negative slot. Additive updates are atomic per value, so
// repeated keys in one batch and concurrent pushes from other streams add up exactly
// (bit-exact for int64).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <gapm/types.hpp>

#include "host/common/delta_measure.hpp"
#include "host/common/optimizer_math.hpp"
#include "host/common/value_type.hpp"  // wrapping_add/sub: constexpr, so device code too (--expt-relaxed-constexpr)

namespace gapm::detail {

/// Where one table's rows live on the device.
template <class T>
struct device_rows {
  const std::int32_t* index;  // (num_keys) slot of each key, -1 when absent
  key_type first_key;
  T* values;                  // (capacity * row_length)
  T* sync_state;              // (capacity * row_length) or null when this node holds no replicas
  std::uint32_t row_length;
};

namespace row_ops {

// Value accesses. On the device plain loads and stores (atomics where values add up); on the
// host, where emulated streams run on their own threads, relaxed atomics, so concurrent
// kernels race exactly as benignly as on a GPU and no read is torn.
template <class T>
GAPM_HOST_DEVICE inline T load(const T* p) {
#if defined(__CUDA_ARCH__)
  return *static_cast<const volatile T*>(p);
#else
  return std::atomic_ref<T>(*const_cast<T*>(p)).load(std::memory_order_relaxed);
#endif
}

template <class T>
GAPM_HOST_DEVICE inline void store(T* p, T value) {
#if defined(__CUDA_ARCH__)
  *p = value;
#else
  std::atomic_ref<T>(*p).store(value, std::memory_order_relaxed);
#endif
}

/// *p += value, atomically; int64 wraps around (two's complement) like the CPU store.
template <class T>
GAPM_HOST_DEVICE inline void atomic_add(T* p, T value) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same_v<T, std::int64_t>) {
    atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(value));
  } else {
    atomicAdd(p, value);
  }
#else
  if constexpr (std::is_same_v<T, std::int64_t>) {
    std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(p))
        .fetch_add(static_cast<std::uint64_t>(value), std::memory_order_relaxed);
  } else {
    std::atomic_ref<T>(*p).fetch_add(value, std::memory_order_relaxed);
  }
#endif
}

/// A copy unit of `Bytes` bytes: the widest access the row size and the buffers' alignment
/// allow (16-byte vectors on the device; on the host, 4-byte words moved one at a time).
GAPM_HOST_DEVICE inline std::int64_t slot_of(const std::int32_t* index, key_type first_key, key_type key) {
  return load(index + (key - first_key));
}

template <std::size_t Bytes>
struct alignas(Bytes) copy_unit {
  std::uint32_t words[Bytes / 4];
};

template <std::size_t Bytes>
GAPM_HOST_DEVICE inline void copy_one(copy_unit<Bytes>* dst, const copy_unit<Bytes>* src) {
#if defined(__CUDA_ARCH__)
  *dst = *src;
#else
  for (std::size_t w = 0; w < Bytes / 4; ++w) store(&dst->words[w], load(&src->words[w]));
#endif
}

/// Gather (ToRows = false): packed[row] = pool[slot(keys[row])]; assign (ToRows = true): the
/// reverse. `units_per_row` units make one row; i runs over n * units_per_row.
template <std::size_t Bytes, bool ToRows>
struct copy_rows {
  const std::int32_t* index;
  key_type first_key;
  const key_type* keys;
  copy_unit<Bytes>* pool;
  std::uint32_t units_per_row;
  copy_unit<Bytes>* packed;

  GAPM_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t row = i / units_per_row;
    const std::size_t part = i - row * units_per_row;
    const std::int64_t slot = slot_of(index, first_key, keys[row]);
    if (slot < 0) return;
    copy_unit<Bytes>* slot_row = pool + static_cast<std::size_t>(slot) * units_per_row;
    if constexpr (ToRows) {
      copy_one(slot_row + part, packed + i);
    } else {
      copy_one(packed + i, slot_row + part);
    }
  }
};

/// The position in the pool of value i of a batch (i over n * row_length), or -1.
template <class T>
GAPM_HOST_DEVICE inline std::int64_t value_at(const device_rows<T>& rows, const key_type* keys, std::size_t i) {
  const std::size_t len = rows.row_length;
  const std::size_t row = i / len;
  const std::int64_t slot = slot_of(rows.index, rows.first_key, keys[row]);
  return slot < 0 ? -1 : slot * static_cast<std::int64_t>(len) + static_cast<std::int64_t>(i - row * len);
}

/// value += deltas[i]
template <class T>
struct add_rows {
  device_rows<T> rows;
  const key_type* keys;
  const T* deltas;
  GAPM_HOST_DEVICE void operator()(std::size_t i) const {
    if (const std::int64_t at = value_at(rows, keys, i); at >= 0) atomic_add(rows.values + at, load(deltas + i));
  }
};

/// deltas[i] = value - sync_state; sync_state = value. One read of each value, so an add that
/// lands after it is counted in the next round, never twice.
template <class T>
struct extract_delta_rows {
  device_rows<T> rows;
  const key_type* keys;
  T* deltas;
  GAPM_HOST_DEVICE void operator()(std::size_t i) const {
    const std::int64_t at = value_at(rows, keys, i);
    if (at < 0) return;
    const T value = load(rows.values + at);
    store(deltas + i, wrapping_sub(value, load(rows.sync_state + at)));
    store(rows.sync_state + at, value);
  }
};

/// out[row] = the measure of the row's value - sync_state; i runs over the rows (n). One thread
/// per row, its reads strided across a warp (not yet measured on a GPU): a round measures only
/// its replicas, and the measure spares moving the deltas that do not travel.
template <class T>
struct measure_delta_rows {
  device_rows<T> rows;
  const key_type* keys;
  delta_measure* out;
  bool with_norm;
  GAPM_HOST_DEVICE void operator()(std::size_t row) const {
    const std::int64_t slot = slot_of(rows.index, rows.first_key, keys[row]);
    if (slot < 0) {  // a key without a row has nothing to send
      out[row] = delta_measure{};
      return;
    }
    const T* values = rows.values + static_cast<std::size_t>(slot) * rows.row_length;
    const T* sync = rows.sync_state + static_cast<std::size_t>(slot) * rows.row_length;
    delta_measure m;
    for (std::size_t j = 0; j < rows.row_length && m.changed == 0; ++j)
      m.changed = differ_in_bits(load(values + j), load(sync + j)) ? 1u : 0u;
    if (with_norm && m.changed != 0)
      m.squares = delta_measure::squares_of(rows.row_length,
                                            [&](std::size_t j) { return wrapping_sub(load(values + j), load(sync + j)); });
    out[row] = m;
  }
};

/// value += main - sync_state (atomically, so concurrent pushes survive); sync_state = main.
template <class T>
struct refresh_merge_rows {
  device_rows<T> rows;
  const key_type* keys;
  const T* main;
  GAPM_HOST_DEVICE void operator()(std::size_t i) const {
    const std::int64_t at = value_at(rows, keys, i);
    if (at < 0) return;
    const T fresh = load(main + i);
    atomic_add(rows.values + at, wrapping_sub(fresh, load(rows.sync_state + at)));
    store(rows.sync_state + at, fresh);
  }
};

/// A fused optimizer step on distinct keys; i runs over the parameter values (n * row_length /
/// factor). Each parameter value's deltas (its state included) are added atomically.
template <class T>
struct step_rows {
  device_rows<T> rows;
  const key_type* keys;
  const T* grads;
  step_constants<T> step;
  GAPM_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t len = rows.row_length;
    const std::size_t d = len / step.factor;
    const std::size_t row = i / d, j = i - row * d;
    const std::int64_t slot = slot_of(rows.index, rows.first_key, keys[row]);
    if (slot < 0) return;
    T* values = rows.values + static_cast<std::size_t>(slot) * len;
    // The values this parameter's step reads, gathered at their offsets j, d + j, 2d + j.
    T mine[3] = {load(values + j), step.factor > 1 ? load(values + d + j) : T{},
                     step.factor > 2 ? load(values + 2 * d + j) : T{}};
    T delta[3] = {};
    step_deltas(step, mine, load(grads + i), 1, 0, delta);
    for (std::uint32_t part = 0; part < step.factor; ++part) atomic_add(values + part * d + j, delta[part]);
  }
};

/// Zeroes the rows at slots[0..n); i runs over n * row_length.
template <class T>
struct zero_rows {
  T* pool;
  std::uint32_t row_length;
  const std::int32_t* slots;
  GAPM_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t row = i / row_length;
    store(pool + static_cast<std::size_t>(slots[row]) * row_length + (i - row * row_length), T{});
  }
};

/// index[keys[i] - first_key] = slots[i] (slot -1 removes the key); i runs over n.
struct update_index {
  std::int32_t* index;
  key_type first_key;
  const key_type* keys;
  const std::int32_t* slots;
  GAPM_HOST_DEVICE void operator()(std::size_t i) const { store(index + (keys[i] - first_key), slots[i]); }
};

}  // namespace row_ops
}  // namespace gapm::detail
