// plane_rows: the rows of a worker's remote writes (push, set, optimizer step) on the data
// plane (cuda/row_plane.hpp). A write whose rows are in device memory sends them GPU to GPU
// when the nodes have the NCCL plane; otherwise they travel in the frames as host rows.
//   outgoing_rows   the writer's side: the rows of each destination's entries, picked from the
//                   caller's buffer (host rows, or device buffers copied in the caller's stream
//                   order, a copy per run of consecutive entries)
//   incoming_rows   the owner's side: a request's rows from its frame, or arrived on the plane
// Rows in host memory wait in pinned memory (host/store/pinned_memory.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <gapm/types.hpp>

#include "comm/cluster.hpp"
#include "comm/wire.hpp"
#include "cuda/device_buffer.hpp"
#include "cuda/row_plane.hpp"
#include "host/store/pinned_memory.hpp"

namespace gapm::detail {

template <class T>
class outgoing_rows {
 public:
  /// The rows of a write: entry i is rows[offsets[i] .. offsets[i + 1]) (host or device memory,
  /// read in `stream`'s order on `device`). `plane`: the node's data plane, or null.
  outgoing_rows(const T* rows, std::span<const std::size_t> offsets, int device, stream_view stream, row_plane* plane);

  /// Whether the picked entries' rows go as device buffers (device_rows) rather than host rows.
  [[nodiscard]] bool on_plane() const noexcept { return plane_ != nullptr; }
  /// The rows of the picked entries, one after another, in host memory (complete on return).
  [[nodiscard]] pinned_vector<T> host_rows(std::span<const std::uint32_t> picks);
  /// The same in a device buffer (on_plane() only); complete once ready() has returned.
  [[nodiscard]] device_buffer<std::byte> device_rows(std::span<const std::uint32_t> picks);
  /// Waits until every device buffer handed out holds its rows.
  void ready();

 private:
  const T* rows_;
  std::span<const std::size_t> offsets_;
  int device_;
  stream_view stream_;
  row_plane* plane_;  // null: host rows
  std::optional<device_scope> on_device_;  // device buffers are made and freed on the node's device
  pinned_vector<T> host_copy_;  // device rows without the plane: read once
};

template <class T>
class incoming_rows {
 public:
  /// The `values` values of rows of request `m`: read off `in` (its payload), or arrived on the
  /// data plane (waited for here; throws comm_error when the plane was aborted meanwhile).
  /// Throws wire::malformed_message when they are not `values` long.
  incoming_rows(const wire::message& m, wire::payload_reader& in, std::size_t values, const cluster& net);

  /// All rows, in device memory (null unless they came on the plane). Work that reads them must
  /// be enqueued on this thread's stream, and complete before this object goes.
  [[nodiscard]] const T* device() const noexcept { return device_; }
  /// All rows, in host memory (copied from the device the first time, if they came so).
  [[nodiscard]] std::span<const T> host();

 private:
  std::shared_ptr<received_rows> arrived_;
  std::optional<device_scope> on_device_;
  const T* device_ = nullptr;
  std::size_t values_;
  pinned_vector<T> host_;
  bool have_host_ = false;
};

}  // namespace gapm::detail
