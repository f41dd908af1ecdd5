#include "comm/cluster.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>
#include <iostream>

#include <gapm/errors.hpp>

#include "comm/shaped_transport.hpp"
#include "comm/zmq_transport.hpp"
#include "host/common/expects.hpp"

namespace gapm::detail {
namespace {

using clock = std::chrono::steady_clock;

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds{static_cast<std::int64_t>(seconds * 1000)};
}

}  // namespace

cluster::cluster(const cluster_env& env, const Options& options, node_hello self, message_handler& handler)
    : rank_{env.rank},
      world_size_{env.world_size},
      handler_{handler},
      context_{1},
      departed_(static_cast<std::size_t>(env.world_size)) {
  const std::string address = local_address_towards(env.master_addr, env.master_port);
  transport_ = std::make_unique<zmq_transport>(context_, rank_, world_size_, address);
  if (const auto model = network_model::from_options(options); model.enabled()) {
    auto shaped = std::make_unique<shaped_transport>(std::move(transport_), world_size_, model);
    shaped_ = shaped.get();
    transport_ = std::move(shaped);
    std::cerr << "gapm: node " << rank_ << ": network model on (benchmark only): " << model.describe() << "\n";
  }
  liveness_ = std::make_unique<liveness>(context_, rank_, world_size_, address, to_ms(options.peer_timeout_s),
                                         [this](int peer, std::chrono::milliseconds silent) { peer_dead(peer, silent); });
  self.endpoint = transport_->endpoint();
  self.heartbeat_endpoint = liveness_->endpoint();
  addresses_ = rendezvous(context_, env, self, options.rendezvous_timeout_s);
  std::vector<std::string> beats;
  for (int peer = 0; peer < world_size_; ++peer) {
    beats.push_back(addresses_[static_cast<std::size_t>(peer)].heartbeat);
    if (peer == rank_) continue;
    if (auto result = transport_->connect(peer, addresses_[static_cast<std::size_t>(peer)].data); !result.ok())
      throw comm_error("gapm: node " + std::to_string(rank_) + ": " + result.error);
  }
  liveness_->connect(beats);
}

void cluster::start() {
  liveness_->start();
  receiver_ = std::thread([this] { receive_loop(); });
}

cluster::~cluster() { leave(false); }

comm_result cluster::send_frame(int peer, std::vector<std::byte> frame) {
  if (frame.size() < sizeof(wire::header)) return comm_result::failure("a frame shorter than its header");
  std::memcpy(frame.data() + offsetof(wire::header, sender), &rank_, sizeof rank_);
  if (departed_[static_cast<std::size_t>(peer)].load())
    return comm_result::failure("node " + std::to_string(peer) + " has left the cluster");
  auto result = transport_->send(peer, frame);
  if (result.ok()) {
    traffic_.messages_sent.fetch_add(1, std::memory_order_relaxed);
    traffic_.bytes_sent.fetch_add(frame.size(), std::memory_order_relaxed);
  }
  return result;
}

void cluster::throw_if_failed() const {
  if (!failed()) return;  // the common case takes no lock
  std::lock_guard guard{state_mutex_};
  throw comm_error(failure_);
}

void cluster::fail(const std::string& reason) {
  {
    std::lock_guard guard{state_mutex_};
    if (!failure_.empty()) return;
    failure_ = "gapm: node " + std::to_string(rank_) + ": " + reason;
    failed_.store(true, std::memory_order_release);
  }
  std::cerr << failure_ << "\n";
  handler_.on_failure(failure_);  // the node's waiters first: by the time anyone wakes, all is failed
  state_changed_.notify_all();
}

void cluster::fail_applying(const char* what, int from, const std::string& cause) noexcept {
  try {
    fail(concat("could not apply ", what, from >= 0 ? concat(" from node ", from) : std::string(), ": ", cause));
  } catch (...) {  // out of memory while failing: the waiters are woken below in any case
  }
}

void cluster::count_malformed(const std::string& what) {
  traffic_.malformed.fetch_add(1, std::memory_order_relaxed);
  std::cerr << "gapm: node " << rank_ << ": dropped a malformed message: " << what << "\n";
}

std::uint64_t cluster::barrier(std::uint64_t contribution) {
  std::uint64_t generation = 0;
  {
    std::lock_guard guard{state_mutex_};
    if (!failure_.empty()) throw comm_error(failure_);
    generation = ++barrier_generation_;
  }
  if (rank_ == 0) {
    enter_barrier(0, generation, contribution);
  } else if (auto result = send(0, {.kind = static_cast<std::uint8_t>(wire::kind::barrier_enter), .request = generation},
                                std::span<const std::uint64_t>(&contribution, 1));
             !result.ok()) {
    fail("barrier: " + result.error);
  }
  std::unique_lock lock{state_mutex_};
  state_changed_.wait(lock, [&] { return released_generation_ >= generation || !failure_.empty(); });
  if (released_generation_ < generation) throw comm_error(failure_);
  return released_value_;
}

void cluster::enter_barrier(int node, std::uint64_t generation, std::uint64_t contribution) {
  std::uint64_t result = 0;
  {
    std::lock_guard guard{state_mutex_};
    auto& arrivals = barrier_arrivals_[generation];
    arrivals.nodes.insert(node);  // a node counts once per generation, however often it says so
    arrivals.minimum = std::min(arrivals.minimum, contribution);
    if (static_cast<int>(arrivals.nodes.size()) < world_size_) return;
    result = arrivals.minimum;
    barrier_arrivals_.erase(generation);
  }
  for (int peer = 1; peer < world_size_; ++peer)
    if (auto result_of_send = send(peer, {.kind = static_cast<std::uint8_t>(wire::kind::barrier_release),
                                          .request = generation},
                                   std::span<const std::uint64_t>(&result, 1));
        !result_of_send.ok()) {
      fail("barrier: " + result_of_send.error);
      return;
    }
  release_barrier(generation, result);
}

void cluster::release_barrier(std::uint64_t generation, std::uint64_t value) {
  {
    std::lock_guard guard{state_mutex_};
    if (generation <= released_generation_) return;
    released_generation_ = generation;
    released_value_ = value;
  }
  state_changed_.notify_all();
}

void cluster::receive_loop() {
  while (!stop_.load()) {
    auto frame = transport_->receive(std::chrono::milliseconds{2});
    if (frame) {
      traffic_.messages_received.fetch_add(1, std::memory_order_relaxed);
      traffic_.bytes_received.fetch_add(frame->bytes.size(), std::memory_order_relaxed);
      std::string error;
      auto message = wire::decode(frame->bytes.data(), frame->bytes.size(), world_size_, error);
      if (message && frame->from != zmq_transport::identity(message->head.sender))
        error = "frame from '" + frame->from + "' claims to come from node " + std::to_string(message->head.sender);
      if (!error.empty() || !message) {
        count_malformed(error);
      } else {
        const int sender = message->head.sender;
        liveness_->heard(sender);  // any frame is a sign of life
        guarded(wire::kind_name(message->head.kind), sender, [&] { handle(std::move(*message)); });
      }
    }
    if (!failed()) guarded("deferred work", -1, [&] { handler_.on_idle(); });
  }
}

void cluster::handle(wire::message&& message) {
  const int sender = message.head.sender;
  switch (message.kind()) {
    case wire::kind::heartbeat:
      return;
    case wire::kind::bye: {
      departed_[static_cast<std::size_t>(sender)] = true;
      liveness_->forget(sender);
      bool expected = false;
      {
        std::lock_guard guard{state_mutex_};
        expected = leaving_clean_ || message.head.request == 1;  // left after the shutdown barrier
      }
      if (expected) return;
      // A peer that leaves after a failure says why: report the root cause, not just the exit.
      constexpr std::size_t max_reason = 4096;
      std::string reason(reinterpret_cast<const char*>(message.payload.data()),
                         std::min(message.payload.size(), max_reason));
      fail("node " + std::to_string(sender) + " left the cluster" +
           (reason.empty() ? std::string(" (it shut down or crashed)") : " after a failure: " + reason));
      return;
    }
    case wire::kind::barrier_enter:
    case wire::kind::barrier_release: {
      std::uint64_t value = 0;
      if (message.payload.size() != sizeof value) throw wire::malformed_message("barrier: payload is not one value");
      std::memcpy(&value, message.payload.data(), sizeof value);
      const bool enter = message.kind() == wire::kind::barrier_enter;
      if (enter ? rank_ != 0 || sender == 0 : sender != 0)
        throw wire::malformed_message(enter ? "barrier_enter to a node that does not run barriers"
                                            : "barrier_release from a node that does not run barriers");
      if (enter) enter_barrier(sender, message.head.generation(), value);
      else release_barrier(message.head.generation(), value);
      return;
    }
    default:
      // After a failure nothing more is applied: the waiters have been told, and an answer
      // arriving now may be for a buffer its owner has already given up.
      if (!failed()) handler_.on_message(std::move(message));
  }
}

void cluster::peer_dead(int peer, std::chrono::milliseconds silent) {
  departed_[static_cast<std::size_t>(peer)] = true;
  fail(concat("node ", peer, " (", addresses_[static_cast<std::size_t>(peer)].data, ") has not been heard from for ",
              silent.count(), " ms: presumed dead (option peer_timeout_s)"));
}

void cluster::leave(bool clean) noexcept {
  if (left_.exchange(true)) return;
  std::string reason;
  {
    std::lock_guard guard{state_mutex_};
    leaving_clean_ = clean;
    reason = failure_;
  }
  for (int peer = 0; peer < world_size_; ++peer)
    if (peer != rank_ && !departed_[static_cast<std::size_t>(peer)].load())
      (void)send(peer, {.kind = static_cast<std::uint8_t>(wire::kind::bye), .request = clean ? 1u : 0u},
                 std::span<const char>(reason));
  stop_ = true;
  if (receiver_.joinable()) receiver_.join();
  liveness_->stop();
  transport_->close();
  if (shaped_ != nullptr) report_network_model();
  {
    std::lock_guard guard{state_mutex_};
    if (failure_.empty()) failure_ = "gapm: node " + std::to_string(rank_) + " has left the cluster";
    failed_.store(true, std::memory_order_release);
  }
  state_changed_.notify_all();
}

void cluster::report_network_model() const noexcept {
  try {
    const shaping_stats stats = shaped_->stats();
    const double frames = static_cast<double>(std::max<std::uint64_t>(stats.frames, 1));
    std::cerr << "gapm: node " << rank_ << ": network model (" << shaped_->model().describe() << "): " << stats.frames
              << " frames, " << stats.bytes << " bytes, modelled delay mean " << stats.modelled_delay_s / frames * 1e6
              << " us, released late by mean " << stats.late_s / frames * 1e6 << " us (max "
              << stats.max_late_s * 1e6 << " us), " << stats.flushed_at_close << " flushed at close\n";
  } catch (...) {  // a report is not worth an exception in leave()
  }
}

}  // namespace gapm::detail
