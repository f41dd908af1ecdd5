// shaped_transport: a BENCHMARK-ONLY network model. It wraps a real transport and delays
// every outgoing frame as a link of a given latency and bandwidth would, so that a cluster of
// processes on one machine (loopback, where a remote access is nearly free) shows what a real
// network does to each management technique. It is off unless `net.latency_us` or
// `net.bandwidth_gbps` is set; it models nothing but the delay (no loss, no reordering, no
// CPU cost of a NIC), and the delays it adds come on top of loopback's own.
//
// The model, per (sender, peer) link: a frame of b bytes sent at time t starts transmission
// when the link is free, occupies it for b / bandwidth, and is delivered `latency` after its
// last byte left:
//     start = max(t, link_free[peer]);  link_free[peer] = start + b / bandwidth;
//     due   = link_free[peer] + latency
// Each peer has its own link (a node's links to different peers do not share bandwidth, as
// with a non-blocking switch and one NIC per peer: optimistic for traffic-heavy modes).
// Frames wait in a per-peer FIFO; one release thread hands each to the inner transport when it
// is due, so frames to a peer keep their order, send() never blocks, and a frame is never
// delivered earlier than modelled (it can be later: the release thread must be scheduled).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "comm/transport.hpp"

namespace gapm {
struct Options;
}

namespace gapm::detail {

/// The parameters of the network model; all zero = no model.
struct network_model {
  std::chrono::nanoseconds latency{0};  ///< one way, added to every frame
  double bytes_per_second = 0;          ///< per peer link; 0 = unlimited

  [[nodiscard]] bool enabled() const noexcept { return latency.count() > 0 || bytes_per_second > 0; }
  /// From `net.latency_us` and `net.bandwidth_gbps` (validated by Options::validate).
  [[nodiscard]] static network_model from_options(const Options& options);
  /// How long a frame of `bytes` occupies a link.
  [[nodiscard]] std::chrono::nanoseconds transmission_time(std::size_t bytes) const noexcept;
  /// "latency 25 us, 10 Gbit/s per peer" (for logs).
  [[nodiscard]] std::string describe() const;
};

/// What the model did so far (for the summary a benchmark prints).
struct shaping_stats {
  std::uint64_t frames = 0;              ///< frames released to the inner transport
  std::uint64_t bytes = 0;
  double modelled_delay_s = 0;           ///< sum over frames of due - send time
  double late_s = 0;                     ///< sum over frames of release - due time (scheduling)
  double max_late_s = 0;
  std::uint64_t flushed_at_close = 0;    ///< frames released early because the transport closed
};

class shaped_transport final : public transport {
 public:
  /// Wraps `inner` (which must not be used directly any more) for a cluster of `world_size`.
  shaped_transport(std::unique_ptr<transport> inner, int world_size, network_model model);
  ~shaped_transport() override { close(); }
  shaped_transport(const shaped_transport&) = delete;
  shaped_transport& operator=(const shaped_transport&) = delete;

  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  [[nodiscard]] std::string endpoint() const override { return inner_->endpoint(); }
  void authenticate(const job_credentials& credentials) override { inner_->authenticate(credentials); }
  [[nodiscard]] comm_result connect(int peer, const std::string& endpoint) override {
    return inner_->connect(peer, endpoint);
  }
  /// Queues a copy of `frame` for release when the model says it arrives. Fails once the
  /// transport is closed, and for a peer to which releasing an earlier frame failed.
  [[nodiscard]] comm_result send(int peer, std::vector<std::byte> frame) override;
  void interrupt_receive() noexcept override { inner_->interrupt_receive(); }
  [[nodiscard]] std::optional<received_frame> receive(std::chrono::milliseconds timeout) override {
    return inner_->receive(timeout);
  }
  /// Releases every frame still waiting at once (ignoring the rest of its delay, so that a
  /// goodbye is not lost), stops the release thread and closes the inner transport. Idempotent.
  void close() noexcept override;

  [[nodiscard]] const network_model& model() const noexcept { return model_; }
  [[nodiscard]] shaping_stats stats() const;

 private:
  using clock = std::chrono::steady_clock;
  struct pending_frame {
    clock::time_point sent;
    clock::time_point due;
    std::vector<std::byte> bytes;
  };
  struct link {
    clock::time_point free_at{};     // when the last queued frame has left
    std::deque<pending_frame> queue;  // due times never decrease
  };

  void release_loop();
  // Pops every frame that is due at `now` (all of them when `all`), in due order; under mutex_.
  std::vector<std::pair<int, pending_frame>> take_due(clock::time_point now, bool all);
  void release(std::vector<std::pair<int, pending_frame>>& frames, bool at_close);

  std::unique_ptr<transport> inner_;
  network_model model_;
  std::string name_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<link> links_;
  std::vector<std::string> link_errors_;  // a failed release breaks the link: later sends fail
  bool stopping_ = false;
  // When the release thread will look at the queues next: max() while it waits for a frame,
  // min() while it is releasing (it looks again before it sleeps).
  clock::time_point planned_wake_ = clock::time_point::min();
  shaping_stats stats_;

  std::mutex close_mutex_;
  bool closed_ = false;
  std::thread releaser_;
};

}  // namespace gapm::detail
