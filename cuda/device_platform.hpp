// device_platform: the device this process runs its rows on — a runtime and the row kernels
// for each value type — or none. Exactly one definition of active_device_platform() is linked:
//   cuda/cuda_platform.cpp                 the CUDA runtime, when a GPU is visible (CUDA build)
//   cuda/no_device_platform.cpp            none (CPU-only build)
//   cuda/emulation/emulated_platform.cpp   the host emulation (test binaries only)
#pragma once

#include <cstdint>
#include <type_traits>

#include "cuda/device_runtime.hpp"
#include "cuda/pipe_links.hpp"
#include "cuda/row_launcher.hpp"

namespace gapm::detail {

struct device_platform {
  device_runtime& runtime;
  row_launcher<float>& float_rows;
  row_launcher<double>& double_rows;
  row_launcher<std::int64_t>& int64_rows;
  /// What moves rows between the devices of different nodes (NCCL), or null: none (rows then
  /// travel through host memory in the control plane's frames).
  const pipe_links_factory* links = nullptr;

  template <class T>
  [[nodiscard]] row_launcher<T>& rows() const noexcept {
    if constexpr (std::is_same_v<T, float>) return float_rows;
    else if constexpr (std::is_same_v<T, double>) return double_rows;
    else return int64_rows;
  }
  /// The device a node with this local rank uses: one GPU per local rank, round robin.
  [[nodiscard]] int device_for(int local_rank) const noexcept {
    const int count = runtime.device_count();
    return count > 0 ? local_rank % count : 0;
  }
};

/// The platform of this process, or null when it has no device (CPU-only build, no GPU or no
/// driver: any error of the runtime counts as "no device").
[[nodiscard]] const device_platform* active_device_platform() noexcept;

}  // namespace gapm::detail
