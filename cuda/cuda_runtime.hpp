// The CUDA runtime behind device_runtime, and the row kernels on it (cuda/row_kernels.cu).
#pragma once

#include "cuda/device_runtime.hpp"
#include "cuda/row_launcher.hpp"

namespace gapm::detail {

/// The process's CUDA runtime, made on first call (`device_count` > 0 devices are visible).
[[nodiscard]] device_runtime& cuda_device_runtime(int device_count);

/// The row kernels of value type T as CUDA kernels.
template <class T>
[[nodiscard]] row_launcher<T>& cuda_row_launcher();

}  // namespace gapm::detail
