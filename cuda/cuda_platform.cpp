// The platform of the CUDA build: the CUDA runtime and kernels, when a GPU is visible.
#include <cstdint>

#include <cuda_runtime_api.h>

#include "cuda/cuda_runtime.hpp"
#include "cuda/device_platform.hpp"
#ifdef GAPM_WITH_NCCL
#include "cuda/nccl_pipe_links.hpp"
#endif

namespace gapm::detail {

namespace {

const pipe_links_factory* links() noexcept {
#ifdef GAPM_WITH_NCCL
  return &nccl_pipe_links_factory();
#else
  return nullptr;  // built without NCCL: rows between nodes go through host memory
#endif
}

}  // namespace

const device_platform* active_device_platform() noexcept {
  static const device_platform* const platform = []() -> const device_platform* {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      (void)cudaGetLastError();  // our own call's "no driver" error, not the user's
      return nullptr;
    }
    static const device_platform cuda{cuda_device_runtime(count), cuda_row_launcher<float>(),
                                      cuda_row_launcher<double>(), cuda_row_launcher<std::int64_t>(), links()};
    return &cuda;
  }();
  return platform;
}

}  // namespace gapm::detail
