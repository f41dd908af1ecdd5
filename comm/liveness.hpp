// liveness: whether the peers are alive, decided apart from the data path. Every node sends a
// beat to every peer on sockets and a thread of their own, so a receive thread busy with a
// long batch (or starved on a loaded machine) does not make its node look dead; any data
// frame counts as a sign of life too. A peer silent for the timeout is reported dead. A stall
// of the observer itself (its thread starved, the process stopped) is not held against the
// peers: after a late tick every peer gets a fresh window before it can be declared dead.
// Beat connections prove their rank like data connections (comm/job_auth.hpp): a stranger's
// beats keep nobody alive.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "comm/job_auth.hpp"

namespace gapm::detail {

class liveness {
 public:
  using clock = std::chrono::steady_clock;
  /// Called (on the liveness thread) with the dead peer and how long it was silent.
  using on_dead = std::function<void(int peer, std::chrono::milliseconds silent)>;

  /// Binds this node's beat socket on `bind_address`. Beats every `timeout` / 5 (20 ms..1 s).
  /// Refused frames are counted in `rejections`.
  liveness(zmq::context_t& context, int rank, int world_size, const std::string& bind_address,
           std::chrono::milliseconds timeout, on_dead report, rejection_log& rejections);
  ~liveness();
  liveness(const liveness&) = delete;
  liveness& operator=(const liveness&) = delete;

  /// Where beats to this node go.
  [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }
  /// The job's credentials (before connect() and start()).
  void authenticate(const job_credentials& credentials);
  /// Opens the path to every peer's beat socket (endpoints by rank; this node's is ignored).
  void connect(const std::vector<std::string>& endpoints);
  void start();
  void stop() noexcept;

  /// A frame from `peer` arrived: it lives.
  void heard(int peer) noexcept { last_heard_[static_cast<std::size_t>(peer)].store(now_ns(), std::memory_order_relaxed); }
  /// `peer` has left (or is dead): it is watched no more.
  void forget(int peer) noexcept { watched_[static_cast<std::size_t>(peer)].store(false, std::memory_order_relaxed); }

  [[nodiscard]] std::chrono::milliseconds interval() const noexcept { return interval_; }

 private:
  static std::int64_t now_ns() noexcept { return clock::now().time_since_epoch().count(); }
  void run();
  void beat();
  void receive_beats(std::chrono::milliseconds wait);
  void check(clock::time_point now, bool observer_stalled);

  int rank_;
  int world_size_;
  std::chrono::milliseconds timeout_, interval_;
  on_dead report_;
  zmq::context_t& context_;
  zmq::socket_t inbox_;  // ROUTER: beats from the peers
  connection_gate gate_;
  std::optional<job_credentials> credentials_;
  std::vector<std::unique_ptr<zmq::socket_t>> outboxes_;  // DEALER per peer, this thread only
  std::string endpoint_;
  std::vector<std::atomic<std::int64_t>> last_heard_;  // steady-clock ns
  std::vector<std::atomic<bool>> watched_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace gapm::detail
