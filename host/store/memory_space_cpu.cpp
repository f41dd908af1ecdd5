// The CPU build: every buffer is host memory.
#include <cstring>

#include "host/store/memory_space.hpp"

namespace gapm::detail {

memory_space space_of(const void*) noexcept { return memory_space::host; }

void copy_to_host(void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); }

void copy_from_host(void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); }

}  // namespace gapm::detail
