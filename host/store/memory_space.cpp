#include "host/store/memory_space.hpp"

#include <cstring>
#include <memory>

#include "cuda/device_platform.hpp"
#include "host/store/pinned_bounce.hpp"

namespace gapm::detail {
namespace {

// Copies through the device runtime in stream order, from or to pinned memory, and waits.
void ordered_copy(void* dst, const void* src, std::size_t bytes, int device, stream_view stream) {
  device_runtime& runtime = active_device_platform()->runtime;
  device_scope on{runtime, device};
  if (runtime.space_of(dst) == memory_space::host) {
    const pinned_bounce host = pinned_bounce::from_device(runtime, dst, bytes);
    runtime.copy(host.data(), src, bytes, stream.handle());
    runtime.synchronize(stream.handle());
    host.land();
    return;
  }
  const pinned_bounce host = pinned_bounce::to_device(runtime, src, bytes);
  runtime.copy(dst, host.data(), bytes, stream.handle());
  runtime.synchronize(stream.handle());
}

}  // namespace

memory_space space_of(const void* ptr) noexcept {
  const device_platform* platform = active_device_platform();
  return platform == nullptr ? memory_space::host : platform->runtime.space_of(ptr);
}

void copy_to_host(void* dst, const void* src, std::size_t bytes, int device, stream_view stream) {
  if (space_of(src) == memory_space::host) {
    std::memcpy(dst, src, bytes);
    return;
  }
  ordered_copy(dst, src, bytes, device, stream);
}

void copy_from_host(void* dst, const void* src, std::size_t bytes, int device, stream_view stream) {
  if (space_of(dst) == memory_space::host) {
    std::memcpy(dst, src, bytes);
    return;
  }
  ordered_copy(dst, src, bytes, device, stream);
}

void copy_from_host_async(void* dst, pinned_vector<std::byte>&& staging, int device, stream_view stream) {
  if (space_of(dst) == memory_space::host) {
    std::memcpy(dst, staging.data(), staging.size());
    return;
  }
  device_runtime& runtime = active_device_platform()->runtime;
  if (!runtime.is_pinned(staging.data())) {  // no device store pinned the pool: a node of host rows
    ordered_copy(dst, staging.data(), staging.size(), device, stream);
    return;
  }
  device_scope on{runtime, device};
  auto kept = std::make_shared<pinned_vector<std::byte>>(std::move(staging));
  try {
    runtime.copy(dst, kept->data(), kept->size(), stream.handle());
    runtime.host_task(stream.handle(), [kept] {});  // frees the staging once the copy has run
  } catch (...) {
    drain_after_failure(runtime, stream.handle());
    throw;
  }
}

}  // namespace gapm::detail
