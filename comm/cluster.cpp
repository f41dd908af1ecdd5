#include "comm/cluster.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <iostream>
#include <span>
#include <stdexcept>

#include <gapm/errors.hpp>

#include "comm/deadline.hpp"
#include "comm/shaped_transport.hpp"
#include "comm/zmq_transport.hpp"
#include "cuda/device_platform.hpp"
#include "cuda/row_plane.hpp"
#include "host/common/expects.hpp"
#include "host/common/thread_cpu.hpp"

namespace gapm::detail {

cluster::cluster(const cluster_env& env, const Options& options, node_hello self, message_handler& handler)
    : rank_{env.rank},
      world_size_{env.world_size},
      handler_{handler},
      barrier_timeout_{saturated_seconds(options.barrier_timeout_s)},
      rejections_{env.rank},
      context_{1},
      heartbeat_context_{1},
      departed_(static_cast<std::size_t>(env.world_size)) {
  const std::string address = local_address_towards(env.master_addr, env.master_port);
  transport_ = std::make_unique<zmq_transport>(context_, rank_, world_size_, address, rejections_);
  if (const auto model = network_model::from_options(options); model.enabled()) {
    auto shaped = std::make_unique<shaped_transport>(std::move(transport_), world_size_, model);
    shaped_ = shaped.get();
    transport_ = std::move(shaped);
    std::cerr << "gapm: node " << rank_ << ": network model on (benchmark only): " << model.describe() << "\n";
  }
  liveness_ = std::make_unique<liveness>(
      heartbeat_context_, rank_, world_size_, address, saturated_ms(options.peer_timeout_s),
      [this](int peer, std::chrono::milliseconds silent) { peer_dead(peer, silent); }, rejections_);
  self.endpoint = transport_->endpoint();
  self.heartbeat_endpoint = liveness_->endpoint();
  auto joined = rendezvous(context_, env, self, options.rendezvous_timeout_s, job_secret::from_env(), rejections_,
                           [&env] {
                             const device_platform& platform = *active_device_platform();
                             device_scope scope{platform.runtime, platform.device_for(env.local_rank)};
                             return platform.links->make_id();
                           });
  if (joined.handed_out && rank_ == 0)
    std::cerr << "gapm: node 0: no " << job_token_variable << " in the environment: rank 0 made the job's token and "
              << "handed it out at the rendezvous (set " << job_token_variable << " on every node, as gapm-run "
              << "does, so that nothing travels in clear; README, \"Security model\")\n";
  addresses_ = std::move(joined.book);
  sync_channels_ = joined.sync_channels;
  credentials_ = {joined.secret, joined.session, rank_, world_size_};
  transport_->authenticate(credentials_);
  liveness_->authenticate(credentials_);
  std::vector<std::string> beats;
  for (int peer = 0; peer < world_size_; ++peer) {
    beats.push_back(addresses_[static_cast<std::size_t>(peer)].heartbeat);
    if (peer == rank_) continue;
    if (auto result = transport_->connect(peer, addresses_[static_cast<std::size_t>(peer)].data); !result.ok())
      throw comm_error("gapm: node " + std::to_string(rank_) + ": " + result.error);
  }
  liveness_->connect(beats);
  join_data_plane(env, joined, saturated_seconds(options.rendezvous_timeout_s));
}

void cluster::start() {
  liveness_->start();
  receiver_ = std::thread([this] {
    name_this_thread("gapm-receive");
    receive_loop();
  });
}

cluster::~cluster() { leave(false); }

comm_result cluster::send_frame(int peer, std::vector<std::byte> frame) {
  if (frame.size() < sizeof(wire::header)) return comm_result::failure("a frame shorter than its header");
  std::memcpy(frame.data() + offsetof(wire::header, sender), &rank_, sizeof rank_);
  if (departed_[static_cast<std::size_t>(peer)].load())
    return comm_result::failure("node " + std::to_string(peer) + " has left the cluster");
  const std::size_t bytes = frame.size();
  auto result = transport_->send(peer, std::move(frame));
  if (result.ok()) {
    traffic_.messages_sent.fetch_add(1, std::memory_order_relaxed);
    traffic_.bytes_sent.fetch_add(bytes, std::memory_order_relaxed);
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
  if (plane_) plane_->abort();  // transfers whose other half may never come end now
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
  // Logged up to a limit: a broken or hostile peer must not be able to flood the log.
  constexpr std::uint64_t logged = 20;
  const auto count = traffic_.malformed.fetch_add(1, std::memory_order_relaxed) + 1;
  if (count <= logged) std::cerr << "gapm: node " << rank_ << ": dropped a malformed message: " << what << "\n";
  if (count == logged)
    std::cerr << "gapm: node " << rank_ << ": further malformed messages are counted, not logged "
              << "(Stats::malformed_messages)\n";
}

void cluster::receive_loop() {
  // A failed cluster's handler gets no turns; the loop then only watches for stop_.
  constexpr std::chrono::milliseconds longest_wait{50};
  std::chrono::milliseconds wait{0};
  while (!stop_.load()) {
    auto frame = transport_->receive(wait);
    if (frame) {
      traffic_.messages_received.fetch_add(1, std::memory_order_relaxed);
      traffic_.bytes_received.fetch_add(frame->bytes.size(), std::memory_order_relaxed);
      std::string error;
      auto message = wire::decode(std::move(frame->bytes), world_size_, error);
      // The connection proved its rank (never this node's own): the header must say the same.
      if (message && message->head.sender != frame->sender)
        error = concat("a frame on node ", frame->sender, "'s connection claims to come from node ",
                       message->head.sender);
      if (!error.empty() || !message) {
        count_malformed(error);
      } else {
        const int sender = message->head.sender;
        liveness_->heard(sender);  // any frame is a sign of life
        guarded(wire::kind_name(message->head.kind), sender, [&] {
          receive_plane_rows(*message);
          handle(std::move(*message));
        });
      }
    }
    check_data_plane();
    wait = longest_wait;
    if (!failed()) guarded("deferred work", -1, [&] { wait = std::min(wait, handler_.on_idle()); });
  }
}

void cluster::handle(wire::message&& message) {
  const int sender = message.head.sender;
  switch (message.kind()) {
    case wire::kind::heartbeat:
      if (!message.payload.empty()) throw wire::malformed_message("heartbeat: unexpected payload");
      return;
    case wire::kind::bye:
      return handle_bye(message);
    case wire::kind::barrier_enter:
    case wire::kind::barrier_release: {
      if (failed()) return;  // a failed cluster releases no barrier: every waiter has been told
      std::uint64_t value = 0;
      if (message.payload.size() != sizeof value) throw wire::malformed_message("barrier: payload is not one value");
      std::memcpy(&value, message.payload.data(), sizeof value);
      const bool enter = message.kind() == wire::kind::barrier_enter;
      if (enter ? rank_ != 0 || sender == 0 : sender != 0)
        throw wire::malformed_message(enter ? "barrier_enter to a node that does not run barriers"
                                            : "barrier_release from a node that does not run barriers");
      const std::uint64_t generation = message.head.generation();
      {
        // A node enters barrier g only after g - 1 was released everywhere, and rank 0 releases
        // g only after every node entered it: any other generation is no honest message.
        std::lock_guard guard{state_mutex_};
        if (generation != released_generation_ + 1 || (!enter && generation > barrier_generation_))
          throw wire::malformed_message(concat(wire::kind_name(message.head.kind), " for barrier ", generation,
                                               ": this node has released ", released_generation_, " and entered ",
                                               barrier_generation_));
      }
      if (enter) enter_barrier(sender, generation, value);
      else release_barrier(generation, value);
      return;
    }
    default:
      // After a failure nothing more is applied: the waiters have been told, and an answer
      // arriving now may be for a buffer its owner has already given up.
      if (!failed()) handler_.on_message(std::move(message));
  }
}

void cluster::handle_bye(const wire::message& message) {
  const int sender = message.head.sender;
  const std::uint64_t their_shutdown = message.head.request;  // 0: left without a shutdown barrier
  departed_[static_cast<std::size_t>(sender)] = true;
  liveness_->forget(sender);
  bool expected = false;
  std::uint64_t our_barrier = 0;
  {
    std::lock_guard guard{state_mutex_};
    // Expected when this node leaves too, or when both passed the same shutdown barrier.
    expected = leaving_ || (their_shutdown != 0 && their_shutdown == shutdown_generation_);
    our_barrier = barrier_generation_;
  }
  if (expected) return;
  if (their_shutdown != 0) {
    fail(concat("node ", sender, " shut down at barrier ", their_shutdown, ", which this node entered ",
                their_shutdown <= our_barrier ? "for barrier(), finalize(), save() or load()" : "not at all",
                ", not for shutdown(): the nodes called collective operations in different orders, and this node "
                "would have waited for node ",
                sender, " forever"));
    return;
  }
  // A peer that leaves after a failure says why: report the root cause, not just the exit.
  constexpr std::size_t max_reason = 4096;
  std::string reason(reinterpret_cast<const char*>(message.payload.data()),
                     std::min(message.payload.size(), max_reason));
  fail("node " + std::to_string(sender) + " left the cluster" +
       (reason.empty() ? std::string(" (it shut down or crashed)") : " after a failure: " + reason));
}

void cluster::peer_dead(int peer, std::chrono::milliseconds silent) {
  departed_[static_cast<std::size_t>(peer)] = true;
  fail(concat("node ", peer, " (", addresses_[static_cast<std::size_t>(peer)].data, ") has not been heard from for ",
              silent.count(), " ms: presumed dead (option peer_timeout_s)"));
}

void cluster::leave(bool clean) noexcept {
  if (left_.exchange(true)) return;
  std::string reason;
  std::uint64_t shutdown = 0;  // the shutdown barrier passed, which makes the leave clean
  {
    std::lock_guard guard{state_mutex_};
    leaving_ = true;
    reason = failure_;
    if (clean && failure_.empty() && shutdown_generation_ != 0 && released_generation_ >= shutdown_generation_)
      shutdown = shutdown_generation_;
  }
  for (int peer = 0; peer < world_size_; ++peer)
    if (peer != rank_ && !departed_[static_cast<std::size_t>(peer)].load())
      (void)send(peer, {.kind = static_cast<std::uint8_t>(wire::kind::bye), .request = shutdown},
                 std::span<const char>(reason));
  stop_ = true;
  transport_->interrupt_receive();
  if (receiver_.joinable()) receiver_.join();
  liveness_->stop();
  // Clean: what is in flight may finish (a failed cluster has aborted it). The plane itself
  // stays until the cluster goes: a late fail() may still abort it.
  if (plane_) plane_->close(std::chrono::seconds{2});
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
