// zmq_transport: the TCP transport on ZeroMQ. One ROUTER socket receives from every peer;
// one DEALER socket per peer sends (a mutex per peer, since ZeroMQ sockets are not thread-
// safe). Send queues are unbounded, so a send never blocks on a slow peer.
//
// Every DEALER connection starts with a hello that proves its rank (comm/job_auth.hpp); the
// ROUTER gives each connection an id of its own (peers do not choose one, so nobody can take
// another's), and frames of connections that proved nothing are refused before decoding.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "comm/job_auth.hpp"
#include "comm/transport.hpp"
#include "comm/wake_signal.hpp"

namespace gapm::detail {

class zmq_transport final : public transport {
 public:
  /// Binds the receiving socket on `bind_address` (an IP) at an ephemeral port. Refused
  /// frames are counted in `rejections`.
  zmq_transport(zmq::context_t& context, int rank, int world_size, const std::string& bind_address,
                rejection_log& rejections);
  ~zmq_transport() override { close(); }

  [[nodiscard]] std::string_view name() const noexcept override { return "tcp"; }
  [[nodiscard]] std::string endpoint() const override { return endpoint_; }
  void authenticate(const job_credentials& credentials) override;
  [[nodiscard]] comm_result connect(int peer, const std::string& endpoint) override;
  [[nodiscard]] comm_result send(int peer, std::vector<std::byte> frame) override;
  [[nodiscard]] std::optional<received_frame> receive(std::chrono::milliseconds timeout) override;
  void interrupt_receive() noexcept override { interrupt_.raise(); }
  void close() noexcept override;

 private:
  struct peer_socket {
    std::mutex mutex;
    std::unique_ptr<zmq::socket_t> socket;
  };

  zmq::context_t& context_;
  int rank_;
  std::string endpoint_;
  zmq::socket_t router_;
  wake_signal interrupt_;
  connection_gate gate_;
  std::optional<job_credentials> credentials_;
  std::vector<peer_socket> peers_;
  std::mutex close_mutex_;
  bool closed_ = false;
};

/// One message off a ROUTER socket without blocking: the connection's id, the body, and the
/// peer's address (for logs). `complete` is false for anything but exactly one body part
/// (every part is drained, so the next read starts at a message boundary). nullopt: nothing
/// was waiting.
struct router_message {
  std::string connection;
  zmq::message_t body;
  bool complete = false;
  [[nodiscard]] std::string peer_address();
};
[[nodiscard]] std::optional<router_message> receive_from_router(zmq::socket_t& router);

}  // namespace gapm::detail
