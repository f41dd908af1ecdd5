// The CUDA store backend, as seen from host-compiled code.
#pragma once

#include <cstdint>
#include <memory>

#include "host/store/store_backend.hpp"

namespace gapm::detail {

/// Visible CUDA devices; 0 when the runtime or the driver is missing (any error means none).
[[nodiscard]] int cuda_device_count() noexcept;

/// A store whose rows live in a slot pool on GPU `device` (taken modulo the device count),
/// with the key→slot index mirrored on the device. `capacity` 0 sizes the pool to
/// `capacity_fraction` of the free device memory, at most one slot per key.
template <class T>
[[nodiscard]] std::unique_ptr<store_backend<T>> make_cuda_store(key_type first_key, std::uint64_t num_keys,
                                                                std::uint32_t row_length, std::uint64_t capacity,
                                                                double capacity_fraction, int device);

}  // namespace gapm::detail
