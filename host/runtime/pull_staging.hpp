// pull_staging: the rows of a pull into a device buffer that came on the data plane
// (cuda/row_plane.hpp). They stay on the device: the receive thread stages them at their
// places in the caller's layout, and the worker copies the staged runs into the caller's
// buffer in the pull's stream order when it delivers the pull (after the rows that came
// through the host). Memory is made and freed on the node's device, whatever thread lets go.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include <gapm/types.hpp>

#include "cuda/device_buffer.hpp"
#include "cuda/device_runtime.hpp"

namespace gapm::detail {

class pull_staging {
 public:
  /// Room for a pull of `bytes` bytes of rows, on `device`.
  pull_staging(device_runtime& runtime, int device, std::size_t bytes) : runtime_{runtime}, device_{device} {
    device_scope scope{runtime_, device_};
    staged_ = device_buffer<std::byte>(runtime_, bytes, nullptr);
  }
  ~pull_staging() {
    device_scope scope{runtime_, device_};
    staged_ = {};
  }
  pull_staging(const pull_staging&) = delete;
  pull_staging& operator=(const pull_staging&) = delete;

  /// Enqueues copying `bytes` bytes of arrived rows at `rows` (device memory) to byte `offset`
  /// of the pull, on this thread's stream (the caller orders it after their arrival, and
  /// synchronizes before the pull is delivered). Call on the node's device.
  void stage(std::size_t offset, const std::byte* rows, std::size_t bytes) {
    runtime_.copy(staged_.data() + offset, rows, bytes, nullptr);
    if (!runs_.empty() && runs_.back().first + runs_.back().second == offset) runs_.back().second += bytes;
    else runs_.emplace_back(offset, bytes);
  }

  /// Copies the staged runs into `out` (the caller's device buffer) in `stream`'s order, and
  /// frees the staging in that order; `wait`: complete on return.
  void deliver(std::byte* out, stream_view stream, bool wait) {
    device_scope scope{runtime_, device_};
    for (const auto& [offset, bytes] : runs_) runtime_.copy(out + offset, staged_.data() + offset, bytes, stream.handle());
    staged_.free_in_order_of(stream.handle());
    staged_ = {};
    if (wait) runtime_.synchronize(stream.handle());
  }

 private:
  device_runtime& runtime_;
  int device_;
  device_buffer<std::byte> staged_;
  std::vector<std::pair<std::size_t, std::size_t>> runs_;  // (byte offset, bytes) staged
};

}  // namespace gapm::detail
