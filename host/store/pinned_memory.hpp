// pinned_memory: page-locked host memory for gapm's side of every copy to or from a device.
// Rows on their way between a GPU and the network (the TCP data plane: sync answers, replica
// deltas, pull answers, pushes) wait in it, so those copies run as DMA, asynchronously and at
// full bandwidth, instead of through a bounce buffer of the driver's. A caller's own host
// buffer that is not pinned goes through a pinned bounce (host/store/pinned_bounce.hpp).
//
// Once a device store exists, the memory is its platform runtime's pinned memory, in
// power-of-two blocks that are cached when freed and never unpinned while the process runs
// (pinning is slow; unpinning may wait for the device, and a block may be freed in a stream's
// host task, where no runtime call is allowed); before, and in processes without a device
// store, ordinary memory. Each block remembers which it is.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace gapm::detail {

class device_runtime;

/// From now on, host blocks are pinned memory of `runtime`, allocated on `device` (portable:
/// usable from every device). The first device store of the process calls it; later calls
/// change nothing. Before, blocks are ordinary memory.
void pin_host_memory_on(device_runtime& runtime, int device);

/// A block of `bytes` of host memory, pinned once pin_host_memory_on was called; aligned for
/// any row type. Throws std::bad_alloc when none can be had.
[[nodiscard]] void* allocate_pinned_block(std::size_t bytes);
/// Gives back what allocate_pinned_block returned (null: nothing).
void free_pinned_block(void* ptr) noexcept;
/// Bytes of pinned blocks kept for reuse now (for tests).
[[nodiscard]] std::size_t pinned_bytes_cached() noexcept;

template <class T>
struct pinned_allocator {
  using value_type = T;
  pinned_allocator() noexcept = default;
  template <class U>
  pinned_allocator(const pinned_allocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor): rebinding

  [[nodiscard]] T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(allocate_pinned_block(n * sizeof(T)));
  }
  void deallocate(T* ptr, std::size_t /*n*/) noexcept { free_pinned_block(ptr); }

  template <class U>
  friend bool operator==(const pinned_allocator&, const pinned_allocator<U>&) noexcept {
    return true;  // one process-wide source: any instance frees what another allocated
  }
};

/// A vector in pinned memory: rows (or keys) a device copies to or from.
template <class T>
using pinned_vector = std::vector<T, pinned_allocator<T>>;

}  // namespace gapm::detail
