// pipe_links: the wire under the row plane (cuda/row_plane.hpp). One pipe per ordered pair of
// nodes; a pipe is a FIFO of transfers between device buffers whose two halves both ends
// enqueue on streams, like a matching ncclSend/ncclRecv pair: the k-th send into a pipe meets
// the k-th receive out of it, and each half holds its stream until the other half is there.
// Implementations:
//   cuda/nccl_pipe_links.cpp                 NCCL: one two-rank communicator per pipe (CUDA+NCCL build)
//   cuda/emulation/emulated_pipe_links.cpp   the host emulation (test binaries only)
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "cuda/device_runtime.hpp"

namespace gapm::detail {

class pipe_links {
 public:
  virtual ~pipe_links() = default;

  /// Enqueues on `stream` sending `bytes` (> 0) bytes at `src` (device memory of this node's
  /// device) as the next transfer of the pipe to `peer`. Work enqueued on `stream` later waits
  /// until the peer has received it.
  virtual void enqueue_send(int peer, const void* src, std::size_t bytes, device_stream stream) = 0;
  /// Enqueues on `stream` receiving the next transfer of the pipe from `peer`, exactly `bytes`
  /// (> 0) bytes, into `dst`.
  virtual void enqueue_receive(int peer, void* dst, std::size_t bytes, device_stream stream) = 0;
  /// An asynchronous failure of the links so far (a transfer that failed), or "".
  [[nodiscard]] virtual std::string failure() = 0;
  /// Ends every transfer in flight now, completed or not (the cluster failed: a peer may never
  /// enqueue its half). Later transfers fail at once.
  virtual void abort() noexcept = 0;
};

/// How a platform makes its links: rank 0 makes the job's id once (it reaches the other nodes
/// through the rendezvous); then every node connects with it, all at about the same time.
class pipe_links_factory {
 public:
  virtual ~pipe_links_factory() = default;
  /// "nccl", or the emulation's name.
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  /// The job's id (opaque bytes). Called on rank 0 only.
  [[nodiscard]] virtual std::string make_id() const = 0;
  /// The links of node `rank` of `world_size` on `device` (made current by the caller). Blocks
  /// until every node has connected, for at most `patience`; throws comm_error when that fails.
  [[nodiscard]] virtual std::unique_ptr<pipe_links> connect(device_runtime& runtime, int device, int rank,
                                                            int world_size, std::string_view id,
                                                            std::chrono::milliseconds patience) const = 0;
};

}  // namespace gapm::detail
