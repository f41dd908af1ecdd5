// pinned_bounce: gapm's host side of one copy between a caller's host buffer and a device,
// in pinned memory (host/store/pinned_memory.hpp): the caller's buffer itself when it is
// pinned already, else a pinned block the rows go through. Keep it until the copy has run.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>

#include "cuda/device_runtime.hpp"
#include "host/store/pinned_memory.hpp"

namespace gapm::detail {

class pinned_bounce {
 public:
  pinned_bounce() = default;

  /// For a copy of `bytes` from `host` to a device: a pinned copy of them, made now.
  [[nodiscard]] static pinned_bounce to_device(const device_runtime& runtime, const void* host, std::size_t bytes) {
    pinned_bounce bounce{const_cast<void*>(host), bytes};
    if (bytes == 0 || runtime.is_pinned(host)) return bounce;
    bounce.block_.reset(static_cast<std::byte*>(allocate_pinned_block(bytes)));
    std::memcpy(bounce.block_.get(), host, bytes);
    return bounce;
  }
  /// For a copy of `bytes` from a device into `host`: finish with land() once it has run.
  [[nodiscard]] static pinned_bounce from_device(const device_runtime& runtime, void* host, std::size_t bytes) {
    pinned_bounce bounce{host, bytes};
    if (bytes == 0 || runtime.is_pinned(host)) return bounce;
    bounce.block_.reset(static_cast<std::byte*>(allocate_pinned_block(bytes)));
    return bounce;
  }

  /// The host side to give the copy.
  [[nodiscard]] void* data() const noexcept { return block_ ? block_.get() : caller_; }
  /// After a copy from the device has run: its rows into the caller's buffer.
  void land() const noexcept {
    if (block_) std::memcpy(caller_, block_.get(), bytes_);
  }

 private:
  pinned_bounce(void* caller, std::size_t bytes) noexcept : caller_{caller}, bytes_{bytes} {}

  void* caller_ = nullptr;
  std::size_t bytes_ = 0;
  struct block_free {
    void operator()(std::byte* block) const noexcept { free_pinned_block(block); }
  };
  std::unique_ptr<std::byte, block_free> block_;  // null: the caller's buffer is pinned
};

}  // namespace gapm::detail
