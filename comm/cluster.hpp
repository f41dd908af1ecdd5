// cluster: this node's membership in a gapm cluster. It joins through the rendezvous,
// connects the transport to every peer, runs the one receive loop of the node, detects dead
// peers (heartbeats), runs cluster-wide barriers, and hands data messages to the node.
// Only connections that proved the job's token reach it (comm/job_auth.hpp), and every wait
// it has is bounded: the rendezvous by rendezvous_timeout_s, a dead peer by peer_timeout_s,
// a barrier by barrier_timeout_s.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include <gapm/options.hpp>

#include "comm/cluster_env.hpp"
#include "comm/job_auth.hpp"
#include "comm/liveness.hpp"
#include "comm/rendezvous.hpp"
#include "comm/transport.hpp"
#include "comm/wire.hpp"
#include "cuda/device_buffer.hpp"

namespace gapm::detail {

class shaped_transport;
class row_plane;

/// What the node does with the messages the cluster does not handle itself. Called on the
/// receive thread; must not block on the network. A handler throws wire::malformed_message
/// for a message that fails its validation (dropped and counted, nothing changed); any other
/// exception means it could not apply a message it accepted, and fails the cluster.
class message_handler {
 public:
  virtual ~message_handler() = default;
  /// A message with a valid header (pull/push/set requests, their answers, sync messages),
  /// until the cluster has failed: afterwards no message reaches the handler.
  virtual void on_message(wire::message&& message) = 0;
  /// The cluster has failed (a peer died or left); every waiter must be woken with `reason`.
  virtual void on_failure(const std::string& reason) = 0;
  /// Called on every turn of the receive loop; returns how long the loop may then wait for a
  /// frame before it must call again (the loop also turns at once after wake_receiver()).
  virtual std::chrono::milliseconds on_idle() { return std::chrono::milliseconds{50}; }
};

/// Traffic counters of the transport.
struct traffic_counters {
  std::atomic<std::uint64_t> messages_sent{0}, messages_received{0}, bytes_sent{0}, bytes_received{0},
      malformed{0};
  std::atomic<std::uint64_t> plane_bytes_sent{0}, plane_bytes_received{0};  // rows on the data plane
};

class cluster {
 public:
  /// Joins: binds the transport, runs the rendezvous, connects to every peer. Throws
  /// comm_error (unreachable rendezvous, disagreement, timeout).
  cluster(const cluster_env& env, const Options& options, node_hello self, message_handler& handler);
  /// Starts the receive loop: from now on the handler is called (so call it once the
  /// handler can send through this cluster). Frames that arrived before wait in the queue.
  void start();
  ~cluster();  ///< leaves abortively if leave() was not called
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  [[nodiscard]] int rank() const noexcept { return rank_; }
  [[nodiscard]] int world_size() const noexcept { return world_size_; }
  [[nodiscard]] const traffic_counters& traffic() const noexcept { return traffic_; }
  /// Frames refused because their connection did not prove it belongs to this job (data and
  /// beat sockets, and the rendezvous on rank 0).
  [[nodiscard]] std::uint64_t rejected_frames() const noexcept { return rejections_.count(); }
  /// The sync channels every node runs, agreed at the rendezvous (option sync.channels resolved).
  [[nodiscard]] int sync_channels() const noexcept { return sync_channels_; }
  /// Makes the receive loop take a turn now (its handler has work: on_idle()); thread-safe.
  void wake_receiver() noexcept { transport_->interrupt_receive(); }
  /// What this node proves its connections with (tests forge and replay hellos with it).
  [[nodiscard]] const job_credentials& credentials() const noexcept { return credentials_; }
  /// Where node `rank`'s transport listens (from the address book).
  [[nodiscard]] const std::string& endpoint(int rank) const { return addresses_.at(static_cast<std::size_t>(rank)).data; }
  /// Where node `rank`'s liveness beats go.
  [[nodiscard]] const std::string& heartbeat_endpoint(int rank) const {
    return addresses_.at(static_cast<std::size_t>(rank)).heartbeat;
  }

  /// Sends one message to `peer` (not to this node). Fails when the peer is gone.
  template <class... Arrays>
  [[nodiscard]] comm_result send(int peer, wire::header head, const Arrays&... parts) {
    head.sender = rank_;
    return send_frame(peer, wire::encode(head, parts...));
  }
  /// Sends an encoded frame to `peer`, stamping this node as its sender.
  [[nodiscard]] comm_result send_frame(int peer, std::vector<std::byte> frame);

  /// The data plane that carries rows GPU to GPU (NCCL), or null: rows travel in the frames.
  /// Chosen at the rendezvous (option data_plane), the same on every node.
  [[nodiscard]] row_plane* plane() const noexcept { return plane_.get(); }
  /// Sends a message whose rows travel on the data plane: `frame`, encoded without them, goes
  /// to `peer` with a note of their transfer (wire::rows_on_plane), in their pipe's order, and
  /// the first `bytes` of `rows` (device memory, filled once `ready` completes; null: already)
  /// follow on the plane. The receiver finds them in wire::message::plane_rows. Requires plane().
  [[nodiscard]] comm_result send_frame_with_rows(int peer, std::vector<std::byte> frame, device_buffer<std::byte> rows,
                                                 std::size_t bytes, device_event ready);
  /// Sends `bytes` to `peer` exactly as they are, over this node's proven connection: no
  /// sender stamp, no size check. Only tests use it, to send broken frames (fuzzing).
  [[nodiscard]] comm_result send_raw(int peer, std::vector<std::byte> bytes) { return transport_->send(peer, std::move(bytes)); }

  /// Waits until every node has entered the same barrier and returns the smallest
  /// `contribution` of all nodes: a vote (1 = yes) or rank 0's word to all (the others give
  /// the maximum). Throws comm_error on failure, and fails the cluster when the barrier is
  /// not complete within barrier_timeout_s (rank 0 names the nodes that did not arrive).
  std::uint64_t barrier(std::uint64_t contribution = std::numeric_limits<std::uint64_t>::max());

  /// The barrier before a clean leave: like barrier(), but marked, so that a peer's clean
  /// `bye` is accepted only when it met this node's shutdown barrier. A peer that shut down
  /// in a barrier this node entered for another reason (barrier(), finalize(), save(), load())
  /// fails this node at once instead of leaving it waiting for that peer forever.
  void shutdown_barrier();

  /// Leaves the cluster: tells the peers (clean = after a completed shutdown_barrier(), so
  /// they do not treat it as a failure), stops the receive loop and closes the transport.
  /// Idempotent.
  void leave(bool clean) noexcept;

  /// Throws comm_error if the cluster has failed.
  void throw_if_failed() const;
  [[nodiscard]] bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }

  /// Fails the cluster: every waiter is woken with a comm_error carrying `reason`, and the
  /// handler hears of it (on_failure). The first reason wins; later calls do nothing.
  void fail(const std::string& reason);

  /// Counts (and logs) a frame dropped by validation somewhere on this node.
  void count_malformed(const std::string& what);

  /// Runs `apply` (the handling of one message, or the node's idle work) with the handler
  /// contract: malformed_message is dropped and counted, any other exception fails the cluster
  /// naming `what` and the cause. Returns false when it did not complete.
  template <class Apply>
  bool guarded(const char* what, int from, Apply&& apply) noexcept {
    try {
      apply();
      return true;
    } catch (const wire::malformed_message& e) {
      count_malformed(e.what());
    } catch (const std::exception& e) {
      fail_applying(what, from, e.what());
    } catch (...) {
      fail_applying(what, from, "an unknown exception");
    }
    return false;
  }

 private:
  void receive_loop();
  void handle(wire::message&& message);
  void fail_applying(const char* what, int from, const std::string& cause) noexcept;
  std::uint64_t run_barrier(std::uint64_t contribution, bool shutdown);
  void enter_barrier(int node, std::uint64_t generation, std::uint64_t contribution);  // rank 0 only
  void release_barrier(std::uint64_t generation, std::uint64_t value);
  void handle_bye(const wire::message& message);
  void peer_dead(int peer, std::chrono::milliseconds silent);
  void report_network_model() const noexcept;  // stderr: what the benchmark network model did
  void join_data_plane(const cluster_env& env, const rendezvous_result& joined, std::chrono::nanoseconds patience);
  void receive_plane_rows(wire::message& message);  // the receive loop: rows_on_plane messages
  void check_data_plane();  // the receive loop, now and then: a failure of the plane fails the cluster

  int rank_;
  int world_size_;
  message_handler& handler_;
  std::chrono::nanoseconds barrier_timeout_;
  rejection_log rejections_;  // before the sockets that count into it
  job_credentials credentials_;
  zmq::context_t context_;
  // Heartbeats get ZeroMQ I/O of their own: a data path busy with large frames must not delay
  // them (issue 11: liveness independent of how busy the data path is).
  zmq::context_t heartbeat_context_;
  std::unique_ptr<transport> transport_;
  shaped_transport* shaped_ = nullptr;  // transport_, when a benchmark network model wraps it
  std::vector<peer_address> addresses_;
  int sync_channels_ = 1;
  std::unique_ptr<row_plane> plane_;  // after the transport: it goes first
  std::chrono::steady_clock::time_point plane_checked_{};
  traffic_counters traffic_;

  // Failure detection: beats on their own thread (liveness); departed_: a peer that left or died.
  std::unique_ptr<liveness> liveness_;
  std::vector<std::atomic<bool>> departed_;

  mutable std::mutex state_mutex_;
  std::condition_variable state_changed_;
  std::string failure_;                          // non-empty once failed
  std::atomic<bool> failed_{false};              // failure_ is set: a lock-free check
  std::uint64_t barrier_generation_ = 0;         // barriers this node entered
  std::uint64_t released_generation_ = 0;        // barriers released
  std::uint64_t released_value_ = 0;             // what the last released barrier returns
  std::uint64_t shutdown_generation_ = 0;        // the barrier this node entered to shut down
  struct barrier_arrivals {
    std::set<int> nodes;
    std::uint64_t minimum = std::numeric_limits<std::uint64_t>::max();
  };
  std::map<std::uint64_t, barrier_arrivals> barrier_arrivals_;  // rank 0: by generation
  bool leaving_ = false;                         // leave() has begun: peers' byes are expected

  std::atomic<bool> stop_{false};
  std::atomic<bool> left_{false};
  std::thread receiver_;
};

}  // namespace gapm::detail
