// The CUDA build: ask the runtime where a pointer points.
#include <cuda_runtime_api.h>

#include <cstring>

#include "cuda/cuda_error.hpp"
#include "host/store/memory_space.hpp"

namespace gapm::detail {

memory_space space_of(const void* ptr) noexcept {
  cudaPointerAttributes attributes{};
  if (ptr == nullptr || cudaPointerGetAttributes(&attributes, ptr) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver, or a pointer the runtime never saw: host memory
    return memory_space::host;
  }
  return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged
             ? memory_space::device
             : memory_space::host;
}

void copy_to_host(void* dst, const void* src, std::size_t bytes) {
  if (space_of(src) == memory_space::host) {
    std::memcpy(dst, src, bytes);
    return;
  }
  GAPM_CUDA_TRY(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
}

void copy_from_host(void* dst, const void* src, std::size_t bytes) {
  if (space_of(dst) == memory_space::host) {
    std::memcpy(dst, src, bytes);
    return;
  }
  GAPM_CUDA_TRY(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
}

}  // namespace gapm::detail
