// transport: moves frames between the nodes of a cluster. The node-level protocol (comm/
// cluster.hpp) sits on top; a TCP implementation (ZeroMQ) carries control traffic, and all
// traffic in the CPU build. An NCCL data plane for row payloads can sit beside it.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gapm::detail {

struct job_credentials;

/// The outcome of a fallible network call; converted to an exception once, at the API boundary.
struct [[nodiscard]] comm_result {
  std::string error;  ///< empty on success
  [[nodiscard]] bool ok() const noexcept { return error.empty(); }
  static comm_result success() { return {}; }
  static comm_result failure(std::string why) { return {std::move(why)}; }
};

struct received_frame {
  int sender = -1;               ///< the rank the frame's connection has proven (comm/job_auth.hpp)
  std::vector<std::byte> bytes;  ///< one frame, not yet validated
};

class transport {
 public:
  virtual ~transport() = default;

  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  /// Where peers reach this node (e.g. tcp://10.0.0.5:41233).
  [[nodiscard]] virtual std::string endpoint() const = 0;
  /// The job's credentials, known once the rendezvous is done; called before connect() and
  /// receive(). Connections prove them; frames of connections that did not are refused.
  virtual void authenticate(const job_credentials& credentials) = 0;
  /// Opens the path to `peer` (asynchronously: frames sent before it is up are queued).
  [[nodiscard]] virtual comm_result connect(int peer, const std::string& endpoint) = 0;
  /// Queues `frame` for `peer` and returns without waiting for the network. Thread-safe. The
  /// transport owns the frame from here (a decorator queues it without a copy).
  [[nodiscard]] virtual comm_result send(int peer, std::vector<std::byte> frame) = 0;
  /// Waits up to `timeout` for the next frame of a proven peer (it may return earlier, with
  /// nothing). Only one thread may receive.
  [[nodiscard]] virtual std::optional<received_frame> receive(std::chrono::milliseconds timeout) = 0;
  /// Makes the receive() that waits now, or else the next one, return at once (with nothing
  /// unless a frame is there). Thread-safe.
  virtual void interrupt_receive() noexcept = 0;
  /// Flushes queued frames for a short while, then closes every socket; idempotent.
  virtual void close() noexcept = 0;
};

}  // namespace gapm::detail
