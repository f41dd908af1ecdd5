// Launchers of the row kernels (defined in row_kernels.cu), callable from host-compiled code.
//
// Every launcher addresses rows through the device key→slot index: row of key k is
// pool[index[k - first_key] * row_length ...]. Keys must be present; buffers are device memory.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include <gapm/types.hpp>

#include "host/common/optimizer_math.hpp"

namespace gapm::detail {

/// Where one table's rows live on the device.
template <class T>
struct device_rows_ref {
  const std::int32_t* index;  // (num_keys) slot of each key, -1 when absent
  key_type first_key;
  T* values;                  // (capacity * row_length)
  T* sync_state;              // (capacity * row_length) or null before the first replica
  std::uint32_t row_length;
};

template <class T>
void launch_gather(device_rows_ref<T> rows, const key_type* keys, std::size_t n, T* out, cudaStream_t stream);
template <class T>
void launch_scatter_add(device_rows_ref<T> rows, const key_type* keys, std::size_t n, const T* deltas,
                        cudaStream_t stream);
template <class T>
void launch_assign(device_rows_ref<T> rows, const key_type* keys, std::size_t n, const T* values,
                   cudaStream_t stream);
template <class T>
void launch_extract_delta(device_rows_ref<T> rows, const key_type* keys, std::size_t n, T* deltas,
                          cudaStream_t stream);
template <class T>
void launch_refresh_merge(device_rows_ref<T> rows, const key_type* keys, std::size_t n, const T* main,
                          cudaStream_t stream);

/// A fused optimizer step on distinct keys: row += step deltas (atomically per value).
template <class T>
void launch_step(device_rows_ref<T> rows, const key_type* keys, std::size_t n, const T* grads,
                 const step_constants<T>& step, cudaStream_t stream);

/// index[keys[i] - first_key] = slots[i] (slot -1 removes the key).
void launch_update_index(std::int32_t* index, key_type first_key, const key_type* keys, const std::int32_t* slots,
                         std::size_t n, cudaStream_t stream);
/// Zeroes the rows at slots[0..n) of `pool`.
template <class T>
void launch_zero_rows(T* pool, std::uint32_t row_length, const std::int32_t* slots, std::size_t n,
                      cudaStream_t stream);

}  // namespace gapm::detail
