// Where a caller's buffer lives, and copies of it in the caller's stream order. With a device
// platform (cuda/device_platform.hpp) the platform's runtime answers; without one every
// buffer is host memory.
#pragma once

#include <cstddef>
#include <vector>

#include <gapm/types.hpp>

#include "host/store/pinned_memory.hpp"

namespace gapm::detail {

enum class memory_space { host, device };

/// The space of the memory `ptr` points into: device for device and managed allocations,
/// host for everything else (pageable and pinned host memory).
[[nodiscard]] memory_space space_of(const void* ptr) noexcept;

/// Copies `bytes` from `src` (host or device memory) into host memory at `dst`, after the
/// work enqueued on `stream` so far (a device buffer is read as the stream's work left it),
/// on `device`. Complete on return.
void copy_to_host(void* dst, const void* src, std::size_t bytes, int device, stream_view stream);

/// Copies `bytes` from host memory at `src` to `dst` (host or device memory) in `stream`'s
/// order on `device`. Complete on return.
void copy_from_host(void* dst, const void* src, std::size_t bytes, int device, stream_view stream);

/// Copies `staging` (pinned host memory) to `dst` (host or device memory) in `stream`'s order on
/// `device`, without waiting for a device copy: `staging` is kept until the stream has read it.
void copy_from_host_async(void* dst, pinned_vector<std::byte>&& staging, int device, stream_view stream);

}  // namespace gapm::detail
