// Device memory comes from one interface (RMM's shape: a public non-virtual allocate and a
// private virtual do_allocate), so that a pool or a user allocator can be put in later.
#pragma once

#include <cstddef>

#include <cuda_runtime_api.h>

#include "cuda/cuda_error.hpp"

namespace gapm::detail {

class device_memory_resource {
 public:
  virtual ~device_memory_resource() = default;
  /// Stream-ordered: the memory may be used by work on `stream` enqueued after this call.
  [[nodiscard]] void* allocate(std::size_t bytes, cudaStream_t stream) { return do_allocate(bytes, stream); }
  /// Stream-ordered: freed once the work enqueued on `stream` before this call is done.
  void deallocate(void* ptr, std::size_t bytes, cudaStream_t stream) noexcept { do_deallocate(ptr, bytes, stream); }

 private:
  virtual void* do_allocate(std::size_t bytes, cudaStream_t stream) = 0;
  virtual void do_deallocate(void* ptr, std::size_t bytes, cudaStream_t stream) noexcept = 0;
};

/// cudaMallocAsync / cudaFreeAsync on the device's default memory pool.
class cuda_async_memory_resource final : public device_memory_resource {
 private:
  void* do_allocate(std::size_t bytes, cudaStream_t stream) override {
    void* ptr = nullptr;
    if (bytes > 0) GAPM_CUDA_TRY(cudaMallocAsync(&ptr, bytes, stream));
    return ptr;
  }
  void do_deallocate(void* ptr, std::size_t, cudaStream_t stream) noexcept override {
    if (ptr != nullptr) (void)cudaFreeAsync(ptr, stream);  // destructors never throw
  }
};

/// The resource every gapm device allocation uses.
inline device_memory_resource& current_device_resource() {
  static cuda_async_memory_resource resource;
  return resource;
}

}  // namespace gapm::detail
