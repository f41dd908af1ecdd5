// Launchers of the row kernels, instantiated for the three value types.
#include <algorithm>
#include <cstdint>

#include "cuda/cuda_error.hpp"
#include "cuda/row_kernels.cuh"

namespace gapm::detail {
namespace {

constexpr unsigned block_size = 256;

// Enough blocks to cover `work` items, capped: the kernels stride over the rest.
unsigned grid_for(std::size_t work) {
  const std::size_t blocks = (work + block_size - 1) / block_size;
  return static_cast<unsigned>(std::clamp<std::size_t>(blocks, 1, 65536));
}

bool aligned(const void* ptr, std::size_t bytes) {
  return reinterpret_cast<std::uintptr_t>(ptr) % bytes == 0;
}

// Gather or assign with the widest vector the row size and both buffers allow.
template <bool ToRows, class T>
void launch_copy(device_rows_ref<T> rows, const key_type* keys, std::size_t n, T* packed, cudaStream_t stream) {
  if (n == 0) return;
  const std::size_t row_bytes = rows.row_length * sizeof(T);
  auto run = [&]<class Vec>(Vec*) {
    const auto vecs = static_cast<std::uint32_t>(row_bytes / sizeof(Vec));
    kernels::copy_rows<Vec, ToRows><<<grid_for(n * vecs), block_size, 0, stream>>>(
        rows.index, rows.first_key, keys, n, reinterpret_cast<Vec*>(rows.values), vecs,
        reinterpret_cast<Vec*>(packed));
  };
  if (row_bytes % 16 == 0 && aligned(packed, 16) && aligned(rows.values, 16)) {
    run(static_cast<uint4*>(nullptr));
  } else if (row_bytes % 8 == 0 && aligned(packed, 8)) {
    run(static_cast<uint2*>(nullptr));
  } else {
    run(static_cast<std::uint32_t*>(nullptr));  // every row is a whole number of 4-byte words
  }
  GAPM_CUDA_TRY(cudaGetLastError());
}

}  // namespace

template <class T>
void launch_gather(device_rows_ref<T> rows, const key_type* keys, std::size_t n, T* out, cudaStream_t stream) {
  launch_copy<false>(rows, keys, n, out, stream);
}

template <class T>
void launch_assign(device_rows_ref<T> rows, const key_type* keys, std::size_t n, const T* values,
                   cudaStream_t stream) {
  launch_copy<true>(rows, keys, n, const_cast<T*>(values), stream);  // read-only in this direction
}

template <class T>
void launch_scatter_add(device_rows_ref<T> rows, const key_type* keys, std::size_t n, const T* deltas,
                        cudaStream_t stream) {
  if (n == 0) return;
  kernels::for_each_value<<<grid_for(n * rows.row_length), block_size, 0, stream>>>(
      rows, keys, n, kernels::add_op<T>{deltas});
  GAPM_CUDA_TRY(cudaGetLastError());
}

template <class T>
void launch_extract_delta(device_rows_ref<T> rows, const key_type* keys, std::size_t n, T* deltas,
                          cudaStream_t stream) {
  if (n == 0) return;
  kernels::for_each_value<<<grid_for(n * rows.row_length), block_size, 0, stream>>>(
      rows, keys, n, kernels::extract_delta_op<T>{deltas});
  GAPM_CUDA_TRY(cudaGetLastError());
}

template <class T>
void launch_refresh_merge(device_rows_ref<T> rows, const key_type* keys, std::size_t n, const T* main,
                          cudaStream_t stream) {
  if (n == 0) return;
  kernels::for_each_value<<<grid_for(n * rows.row_length), block_size, 0, stream>>>(
      rows, keys, n, kernels::refresh_merge_op<T>{main});
  GAPM_CUDA_TRY(cudaGetLastError());
}

template <class T>
void launch_step(device_rows_ref<T> rows, const key_type* keys, std::size_t n, const T* grads,
                 const step_constants<T>& step, cudaStream_t stream) {
  if (n == 0) return;
  kernels::step_rows<<<grid_for(n * (rows.row_length / step.factor)), block_size, 0, stream>>>(rows, keys, n, grads, step);
  GAPM_CUDA_TRY(cudaGetLastError());
}

void launch_update_index(std::int32_t* index, key_type first_key, const key_type* keys, const std::int32_t* slots,
                         std::size_t n, cudaStream_t stream) {
  if (n == 0) return;
  kernels::update_index<<<static_cast<unsigned>((n + block_size - 1) / block_size), block_size, 0, stream>>>(
      index, first_key, keys, slots, n);
  GAPM_CUDA_TRY(cudaGetLastError());
}

template <class T>
void launch_zero_rows(T* pool, std::uint32_t row_length, const std::int32_t* slots, std::size_t n,
                      cudaStream_t stream) {
  if (n == 0) return;
  kernels::zero_rows<<<grid_for(n * row_length), block_size, 0, stream>>>(pool, row_length, slots, n);
  GAPM_CUDA_TRY(cudaGetLastError());
}

#define GAPM_INSTANTIATE_ROW_KERNELS(T)                                                                     \
  template void launch_gather<T>(device_rows_ref<T>, const key_type*, std::size_t, T*, cudaStream_t);       \
  template void launch_assign<T>(device_rows_ref<T>, const key_type*, std::size_t, const T*, cudaStream_t); \
  template void launch_scatter_add<T>(device_rows_ref<T>, const key_type*, std::size_t, const T*,           \
                                      cudaStream_t);                                                        \
  template void launch_extract_delta<T>(device_rows_ref<T>, const key_type*, std::size_t, T*, cudaStream_t); \
  template void launch_refresh_merge<T>(device_rows_ref<T>, const key_type*, std::size_t, const T*,         \
                                        cudaStream_t);                                                      \
  template void launch_zero_rows<T>(T*, std::uint32_t, const std::int32_t*, std::size_t, cudaStream_t);      \
  template void launch_step<T>(device_rows_ref<T>, const key_type*, std::size_t, const T*,                  \
                               const step_constants<T>&, cudaStream_t);

GAPM_INSTANTIATE_ROW_KERNELS(float)
GAPM_INSTANTIATE_ROW_KERNELS(double)
GAPM_INSTANTIATE_ROW_KERNELS(std::int64_t)
#undef GAPM_INSTANTIATE_ROW_KERNELS

}  // namespace gapm::detail
