// The platform of the CUDA build: the CUDA runtime and kernels, when a GPU is visible.
#include <cstdint>

#include <cuda_runtime_api.h>

#include "cuda/cuda_runtime.hpp"
#include "cuda/device_platform.hpp"

namespace gapm::detail {

const device_platform* active_device_platform() noexcept {
  static const device_platform* const platform = []() -> const device_platform* {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
      (void)cudaGetLastError();  // our own call's "no driver" error, not the user's
      return nullptr;
    }
    static const device_platform cuda{cuda_device_runtime(count), cuda_row_launcher<float>(),
                                      cuda_row_launcher<double>(), cuda_row_launcher<std::int64_t>()};
    return &cuda;
  }();
  return platform;
}

}  // namespace gapm::detail
