#include "comm/zmq_transport.hpp"

#include <algorithm>
#include <array>

#include <gapm/errors.hpp>

namespace gapm::detail {
namespace {

constexpr int linger_ms = 2000;  // how long close() may spend flushing queued frames

}  // namespace

std::string router_message::peer_address() {
  try {
    const char* address = body.gets("Peer-Address");
    return address == nullptr ? std::string() : std::string(address);
  } catch (const zmq::error_t&) {  // no such property (not TCP): logged as an unknown address
    return {};
  }
}

std::optional<router_message> receive_from_router(zmq::socket_t& router) {
  zmq::message_t identity;
  if (!router.recv(identity, zmq::recv_flags::dontwait)) return std::nullopt;
  router_message message;
  message.connection = identity.to_string();
  if (!identity.more()) return message;  // no body at all
  std::size_t parts = 0;
  // A multi-part message arrives whole: once its first part is readable, so are the rest.
  while (true) {
    zmq::message_t part;
    if (!router.recv(part, zmq::recv_flags::dontwait)) break;
    const bool more = part.more();
    if (++parts == 1) message.body = std::move(part);
    if (!more) break;
  }
  message.complete = parts == 1;
  return message;
}

zmq_transport::zmq_transport(zmq::context_t& context, int rank, int world_size, const std::string& bind_address,
                             rejection_log& rejections)
    : context_{context},
      rank_{rank},
      router_{context, zmq::socket_type::router},
      gate_{connection_purpose::data, rejections},
      peers_(static_cast<std::size_t>(world_size)) {
  router_.set(zmq::sockopt::linger, 0);
  router_.set(zmq::sockopt::rcvhwm, 0);
  try {
    router_.bind("tcp://" + bind_address + ":0");
  } catch (const zmq::error_t& e) {
    throw comm_error("gapm: cannot bind the TCP transport on " + bind_address + ": " + e.what());
  }
  endpoint_ = router_.get(zmq::sockopt::last_endpoint);
}

void zmq_transport::authenticate(const job_credentials& credentials) {
  credentials_ = credentials;
  gate_.authenticate(credentials);
}

comm_result zmq_transport::connect(int peer, const std::string& endpoint) {
  if (!credentials_) return comm_result::failure("connect before the job's credentials are known");
  auto& slot = peers_.at(static_cast<std::size_t>(peer));
  std::lock_guard guard{slot.mutex};
  try {
    auto socket = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
    socket->set(zmq::sockopt::sndhwm, 0);  // unbounded: sends never block
    socket->set(zmq::sockopt::linger, linger_ms);
    socket->connect(endpoint);
    // The first frame on the connection proves who opens it (queued until it is up).
    const auto hello = make_hello(*credentials_, connection_purpose::data, peer);
    if (!socket->send(zmq::buffer(hello), zmq::send_flags::dontwait))
      return comm_result::failure("cannot queue the hello to node " + std::to_string(peer));
    slot.socket = std::move(socket);
  } catch (const zmq::error_t& e) {
    return comm_result::failure("cannot connect to node " + std::to_string(peer) + " at " + endpoint + ": " +
                                e.what());
  }
  return comm_result::success();
}

comm_result zmq_transport::send(int peer, std::vector<std::byte> frame) {
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
  // Hellos and refused frames are handled here, until a proven peer's frame arrives or the
  // time is up (a flood of refused frames cannot hold the caller longer than `timeout`).
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (auto left = timeout;; left = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 until - std::chrono::steady_clock::now())) {
    std::array<zmq::pollitem_t, 2> items{{{router_.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, interrupt_.fd(), ZMQ_POLLIN, 0}}};
    if (zmq::poll(items.data(), items.size(), std::max(left, std::chrono::milliseconds{0})) <= 0) return std::nullopt;
    if ((items[1].revents & ZMQ_POLLIN) != 0) {  // interrupted: the caller has other work now
      interrupt_.clear();
      return std::nullopt;
    }
    for (int turn = 0; turn < 256; ++turn) {
      auto message = receive_from_router(router_);
      if (!message) break;
      const auto bytes = std::span(static_cast<const std::byte*>(message->body.data()), message->body.size());
      const auto verdict = gate_.admit(message->connection, message->complete ? bytes : std::span<const std::byte>{},
                                       [&] { return message->peer_address(); });
      if (verdict.what != connection_gate::verdict::deliver) continue;
      received_frame frame;
      frame.sender = verdict.sender;
      // A multi-part body from a proven peer is malformed: delivered empty, for the validator.
      if (message->complete) frame.bytes.assign(bytes.begin(), bytes.end());
      return frame;
    }
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
  }
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
