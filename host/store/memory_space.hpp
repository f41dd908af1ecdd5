// Where a caller's buffer lives. The CPU build knows only host memory; the CUDA build asks
// the CUDA runtime (cuda/memory_space.cpp).
#pragma once

#include <cstddef>

namespace gapm::detail {

enum class memory_space { host, device };

/// The space of the memory `ptr` points into: device for device and managed allocations,
/// host for everything else (pageable and pinned host memory).
[[nodiscard]] memory_space space_of(const void* ptr) noexcept;

/// Copies `bytes` from `src` (host or device memory) into host memory at `dst`.
void copy_to_host(void* dst, const void* src, std::size_t bytes);

/// Copies `bytes` from host memory at `src` to `dst` (host or device memory).
void copy_from_host(void* dst, const void* src, std::size_t bytes);

}  // namespace gapm::detail
