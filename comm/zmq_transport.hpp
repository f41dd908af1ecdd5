// zmq_transport: the TCP transport on ZeroMQ. One ROUTER socket receives from every peer;
// one DEALER socket per peer sends (a mutex per peer, since ZeroMQ sockets are not thread-
// safe). Send queues are unbounded, so a send never blocks on a slow peer.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "comm/transport.hpp"

namespace gapm::detail {

class zmq_transport final : public transport {
 public:
  /// Binds the receiving socket on `bind_address` (an IP) at an ephemeral port.
  zmq_transport(zmq::context_t& context, int rank, int world_size, const std::string& bind_address);
  ~zmq_transport() override { close(); }

  [[nodiscard]] std::string_view name() const noexcept override { return "tcp"; }
  [[nodiscard]] std::string endpoint() const override { return endpoint_; }
  [[nodiscard]] comm_result connect(int peer, const std::string& endpoint) override;
  [[nodiscard]] comm_result send(int peer, const std::vector<std::byte>& frame) override;
  [[nodiscard]] std::optional<received_frame> receive(std::chrono::milliseconds timeout) override;
  void close() noexcept override;

  /// The identity a node's DEALER sockets announce to the peers' ROUTER.
  [[nodiscard]] static std::string identity(int rank) { return "gapm-r" + std::to_string(rank); }

 private:
  struct peer_socket {
    std::mutex mutex;
    std::unique_ptr<zmq::socket_t> socket;
  };

  zmq::context_t& context_;
  int rank_;
  std::string endpoint_;
  zmq::socket_t router_;
  std::vector<peer_socket> peers_;
  std::mutex close_mutex_;
  bool closed_ = false;
};

}  // namespace gapm::detail
