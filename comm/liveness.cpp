#include "comm/liveness.hpp"

#include <algorithm>

#include <gapm/errors.hpp>

#include "comm/wire.hpp"
#include "comm/zmq_transport.hpp"
#include "host/common/thread_cpu.hpp"

namespace gapm::detail {

liveness::liveness(zmq::context_t& context, int rank, int world_size, const std::string& bind_address,
                   std::chrono::milliseconds timeout, on_dead report, rejection_log& rejections)
    : rank_{rank},
      world_size_{world_size},
      timeout_{timeout},
      interval_{std::clamp(timeout / 5, std::chrono::milliseconds{20}, std::chrono::milliseconds{1000})},
      report_{std::move(report)},
      context_{context},
      inbox_{context, zmq::socket_type::router},
      gate_{connection_purpose::beat, rejections},
      outboxes_(static_cast<std::size_t>(world_size)),
      last_heard_(static_cast<std::size_t>(world_size)),
      watched_(static_cast<std::size_t>(world_size)) {
  inbox_.set(zmq::sockopt::linger, 0);
  inbox_.set(zmq::sockopt::maxmsgsize, std::int64_t{4096});  // beats and hellos are tiny: a bigger frame ends its connection
  try {
    inbox_.bind("tcp://" + bind_address + ":0");
  } catch (const zmq::error_t& e) {
    throw comm_error("gapm: cannot bind the heartbeat socket on " + bind_address + ": " + e.what());
  }
  endpoint_ = inbox_.get(zmq::sockopt::last_endpoint);
  for (int peer = 0; peer < world_size; ++peer) watched_[static_cast<std::size_t>(peer)] = peer != rank;
}

liveness::~liveness() { stop(); }

void liveness::authenticate(const job_credentials& credentials) {
  credentials_ = credentials;
  gate_.authenticate(credentials);
}

void liveness::connect(const std::vector<std::string>& endpoints) {
  if (!credentials_) throw comm_error("gapm: liveness: connect before the job's credentials are known");
  for (int peer = 0; peer < world_size_; ++peer) {
    if (peer == rank_) continue;
    auto socket = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
    socket->set(zmq::sockopt::linger, 0);
    socket->set(zmq::sockopt::sndhwm, 4);  // a peer that does not read needs no pile of beats
    socket->connect(endpoints[static_cast<std::size_t>(peer)]);
    // The hello goes first (an empty queue takes it): it proves the beats that follow.
    (void)socket->send(zmq::buffer(make_hello(*credentials_, connection_purpose::beat, peer)), zmq::send_flags::dontwait);
    outboxes_[static_cast<std::size_t>(peer)] = std::move(socket);
  }
}

void liveness::start() {
  for (auto& heard_at : last_heard_) heard_at.store(now_ns(), std::memory_order_relaxed);
  thread_ = std::thread([this] {
    name_this_thread("gapm-liveness");
    run();
  });
}

void liveness::stop() noexcept {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void liveness::run() {
  auto last_tick = clock::now();
  while (!stop_.load()) {
    beat();
    receive_beats(interval_);
    const auto now = clock::now();
    // A tick far later than planned means this thread (or the whole process) was stalled:
    // the peers' silence over that time is ours, not theirs.
    const bool stalled = now - last_tick > 2 * interval_ + std::chrono::milliseconds{50};
    last_tick = now;
    check(now, stalled);
  }
}

void liveness::beat() {
  const wire::header head{.kind = static_cast<std::uint8_t>(wire::kind::heartbeat), .sender = rank_};
  const auto frame = wire::encode(head);
  for (int peer = 0; peer < world_size_; ++peer) {
    auto& socket = outboxes_[static_cast<std::size_t>(peer)];
    if (!socket || !watched_[static_cast<std::size_t>(peer)].load(std::memory_order_relaxed)) continue;
    try {
      (void)socket->send(zmq::buffer(frame), zmq::send_flags::dontwait);  // a full queue drops a beat: fine
    } catch (const zmq::error_t&) {
    }
  }
}

void liveness::receive_beats(std::chrono::milliseconds wait) {
  const auto until = clock::now() + wait;
  for (auto left = wait; left.count() > 0;
       left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now())) {
    zmq::pollitem_t item{inbox_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, left) <= 0) return;
    // Bounded per turn, so that a flood cannot keep this thread from beating and checking.
    for (int turn = 0; turn < 256; ++turn) {
      auto message = receive_from_router(inbox_);
      if (!message) break;
      const auto bytes = std::span(static_cast<const std::byte*>(message->body.data()), message->body.size());
      const auto verdict = gate_.admit(message->connection, message->complete ? bytes : std::span<const std::byte>{},
                                       [&] { return message->peer_address(); });
      if (verdict.what != connection_gate::verdict::deliver || !message->complete) continue;
      std::string error;
      auto beat = wire::decode(bytes.data(), bytes.size(), world_size_, error);
      if (!beat || beat->kind() != wire::kind::heartbeat || beat->head.sender != verdict.sender) continue;
      heard(verdict.sender);
    }
  }
}

void liveness::check(clock::time_point now, bool observer_stalled) {
  const auto now_count = now.time_since_epoch().count();
  for (int peer = 0; peer < world_size_; ++peer) {
    const auto p = static_cast<std::size_t>(peer);
    if (!watched_[p].load(std::memory_order_relaxed)) continue;
    if (observer_stalled) {  // a fresh window: the peer has one interval to be heard from
      const auto fresh = (now - interval_).time_since_epoch().count();
      if (last_heard_[p].load(std::memory_order_relaxed) < fresh) last_heard_[p].store(fresh, std::memory_order_relaxed);
      continue;
    }
    const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::nanoseconds{now_count - last_heard_[p].load(std::memory_order_relaxed)});
    if (silent <= timeout_) continue;
    watched_[p] = false;
    report_(peer, silent);
  }
}

}  // namespace gapm::detail
