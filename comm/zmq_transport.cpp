#include "comm/zmq_transport.hpp"

#include <gapm/errors.hpp>

namespace gapm::detail {
namespace {

constexpr int linger_ms = 2000;  // how long close() may spend flushing queued frames

}  // namespace

zmq_transport::zmq_transport(zmq::context_t& context, int rank, int world_size, const std::string& bind_address)
    : context_{context}, rank_{rank}, router_{context, zmq::socket_type::router}, peers_(world_size) {
  router_.set(zmq::sockopt::linger, 0);
  router_.set(zmq::sockopt::rcvhwm, 0);
  try {
    router_.bind("tcp://" + bind_address + ":0");
  } catch (const zmq::error_t& e) {
    throw comm_error("gapm: cannot bind the TCP transport on " + bind_address + ": " + e.what());
  }
  endpoint_ = router_.get(zmq::sockopt::last_endpoint);
}

comm_result zmq_transport::connect(int peer, const std::string& endpoint) {
  auto& slot = peers_.at(static_cast<std::size_t>(peer));
  std::lock_guard guard{slot.mutex};
  try {
    auto socket = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
    socket->set(zmq::sockopt::routing_id, identity(rank_));
    socket->set(zmq::sockopt::sndhwm, 0);  // unbounded: sends never block
    socket->set(zmq::sockopt::linger, linger_ms);
    socket->connect(endpoint);
    slot.socket = std::move(socket);
  } catch (const zmq::error_t& e) {
    return comm_result::failure("cannot connect to node " + std::to_string(peer) + " at " + endpoint + ": " +
                                e.what());
  }
  return comm_result::success();
}

comm_result zmq_transport::send(int peer, const std::vector<std::byte>& frame) {
  auto& slot = peers_.at(static_cast<std::size_t>(peer));
  std::lock_guard guard{slot.mutex};
  if (!slot.socket) return comm_result::failure("no connection to node " + std::to_string(peer));
  try {
    zmq::message_t message(frame.data(), frame.size());
    if (!slot.socket->send(message, zmq::send_flags::dontwait))
      return comm_result::failure("the send queue to node " + std::to_string(peer) + " is full");
  } catch (const zmq::error_t& e) {
    return comm_result::failure("sending to node " + std::to_string(peer) + " failed: " + e.what());
  }
  return comm_result::success();
}

std::optional<received_frame> zmq_transport::receive(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) <= 0) return std::nullopt;
  zmq::message_t identity_part, body;
  if (!router_.recv(identity_part, zmq::recv_flags::dontwait)) return std::nullopt;
  received_frame frame;
  frame.from = identity_part.to_string();
  // A well-formed frame has exactly one body part; drain any extra parts a stray client sent.
  bool first = true;
  while (true) {
    if (!router_.recv(body, zmq::recv_flags::dontwait)) break;
    if (first) {
      const auto* data = static_cast<const std::byte*>(body.data());
      frame.bytes.assign(data, data + body.size());
      first = false;
    } else {
      frame.bytes.clear();  // multi-part bodies are malformed: leave it empty for the validator
    }
    if (!body.more()) break;
  }
  return frame;
}

void zmq_transport::close() noexcept {
  std::lock_guard guard{close_mutex_};
  if (closed_) return;
  closed_ = true;
  for (auto& slot : peers_) {
    std::lock_guard peer_guard{slot.mutex};
    slot.socket.reset();
  }
  router_.close();
}

}  // namespace gapm::detail
