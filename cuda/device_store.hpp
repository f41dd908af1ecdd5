// The device store backend (rows in a GPU slot pool), as seen from the rest of gapm. It runs
// on a device_platform: the CUDA runtime on a GPU, or the host emulation in tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "cuda/device_platform.hpp"
#include "host/store/store_backend.hpp"

namespace gapm::detail {

/// Slots a table's pool gets when the user did not say: `fraction` of the free device memory,
/// room for the values (and their sync_state when `with_sync_state`) and the key index, never
/// more than one slot per key nor more than a slot index (int32) can address.
[[nodiscard]] std::uint64_t default_device_capacity(std::uint64_t num_keys, std::size_t row_bytes,
                                                    bool with_sync_state, std::size_t free_bytes, double fraction);

/// The rows of keys [first_key, first_key + num_keys) in a pool of `capacity` slots (0: the
/// default above) on `device`. `with_sync_state` allocates the replicas' sync_state with the
/// pool, so that a node that will hold replicas never allocates in the middle of training.
/// Throws gapm::error naming the bytes when the device memory does not suffice.
template <class T>
[[nodiscard]] std::unique_ptr<store_backend<T>> make_device_store(const device_platform& platform, int device,
                                                                  key_type first_key, std::uint64_t num_keys,
                                                                  std::uint32_t row_length, std::uint64_t capacity,
                                                                  double capacity_fraction, bool with_sync_state,
                                                                  home_keys home = {});

}  // namespace gapm::detail
