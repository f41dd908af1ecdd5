// The row kernels on the GPU: one grid-stride kernel template that runs a function object of
// cuda/row_ops.hpp over a flat index range, and the launchers of cuda/row_launcher.hpp on it.
#include <algorithm>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "cuda/cuda_error.hpp"
#include "cuda/cuda_runtime.hpp"

namespace gapm::detail {
namespace {

constexpr unsigned block_size = 256;

template <class Op>
__global__ void for_each_index(std::size_t total, Op op) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) op(i);
}

// Enough blocks to cover `total` items, capped: the kernel strides over the rest.
unsigned grid_for(std::size_t total) {
  return static_cast<unsigned>(std::clamp<std::size_t>((total + block_size - 1) / block_size, 1, 65536));
}

struct cuda_executor {
  template <class Op>
  void operator()(std::size_t total, const Op& op, device_stream stream) const {
    if (total == 0) return;
    // cudaLaunchKernel returns the launch's own error: no cudaGetLastError, which would also
    // take away an error the caller has pending.
    Op params = op;
    void* args[] = {&total, &params};
    GAPM_CUDA_TRY(cudaLaunchKernel(reinterpret_cast<const void*>(&for_each_index<Op>), dim3(grid_for(total)),
                                   dim3(block_size), args, 0,
                                   stream == nullptr ? cudaStreamPerThread : static_cast<cudaStream_t>(stream)));
  }
};

}  // namespace

template <class T>
row_launcher<T>& cuda_row_launcher() {
  static generic_row_launcher<T, cuda_executor> launcher{cuda_executor{}};
  return launcher;
}

template row_launcher<float>& cuda_row_launcher<float>();
template row_launcher<double>& cuda_row_launcher<double>();
template row_launcher<std::int64_t>& cuda_row_launcher<std::int64_t>();

}  // namespace gapm::detail
