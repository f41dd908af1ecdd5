// node_impl<T>: the runtime behind Node<T> and Worker<T>.
//
// Files: node_impl.cpp (lifetime, workers, barriers, stats), node_snapshot.cpp (save/load), node_ops.cpp (the
// worker-side pull/push/set: local fast path, remote requests), node_serve.cpp (the receive
// side: serving peers' requests, applying their answers), sync_manager.cpp (the adaptive
// layer: intents, replicas, relocations, one thread per sync channel).
//
// Locking: a key's role (absent / main / pending / replica) changes together with its row
// slot under the exclusive structure_mutex_; every local row operation holds it shared, so
// a key it found readable stays so until the operation is done. Row updates themselves are
// atomic per row in the stores.
#pragma once

#include <atomic>
#include <chrono>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include <gapm/options.hpp>
#include <gapm/stats.hpp>
#include <gapm/types.hpp>

#include "comm/cluster.hpp"
#include "comm/cluster_env.hpp"
#include "host/common/key_space.hpp"
#include "host/adaptive/batch_routes.hpp"
#include "host/adaptive/key_states.hpp"
#include "host/runtime/local_barrier.hpp"
#include "host/adaptive/parking_lot.hpp"
#include "host/runtime/sampler.hpp"
#include "host/runtime/snapshot_files.hpp"
#include "host/store/store_backend.hpp"
#include "host/adaptive/sync_manager.hpp"
#include "host/runtime/worker_state.hpp"

namespace gapm::detail {

/// How a value-carrying operation changes the store.
enum class write_kind { add, assign };

/// How a worker operation was called.
struct call_mode {
  stream_view stream{};
  bool blocking = true;                      ///< synchronise the stream before returning
  std::optional<std::size_t> buffer_values;  ///< span overloads: the value buffer's length, checked
};

template <class T>
class node_impl final : private message_handler {
 public:
  explicit node_impl(Options options);
  ~node_impl() override;
  node_impl(const node_impl&) = delete;
  node_impl& operator=(const node_impl&) = delete;

  [[nodiscard]] int rank() const noexcept { return env_.rank; }
  [[nodiscard]] int world_size() const noexcept { return env_.world_size; }
  [[nodiscard]] const Options& options() const noexcept { return options_; }
  [[nodiscard]] const key_space& keys() const noexcept { return keys_; }
  [[nodiscard]] std::string store_name() const;

  worker_state& register_worker(int id);
  void deregister_worker(worker_state& worker) noexcept;

  // Worker operations (node_ops.cpp).
  Ticket pull(worker_state& worker, const key_type* keys, std::size_t n, T* out, call_mode mode = {});
  Ticket write(worker_state& worker, write_kind kind, const key_type* keys, std::size_t n, const T* rows,
               call_mode mode = {});

  void intent(worker_state& worker, const key_type* keys, std::size_t n, clock_type start, clock_type end);

  // Sampling (node_sampling.cpp).
  void set_sampler(std::function<key_type()> sample_key);
  SampleId prepare_sample(worker_state& worker, std::size_t k, clock_type start, clock_type end);
  Ticket pull_sample(worker_state& worker, SampleId id, key_type* keys_out, std::size_t n, T* values_out);
  void finish_sample(worker_state& worker, SampleId id);
  void advance_clock(worker_state& worker);
  void wait_sync(worker_state& worker);
  void worker_barrier(worker_state& worker);
  void finalize(worker_state& worker);
  /// Throws logic_error unless `worker` may still be used for `operation`, comm_error when
  /// the cluster has failed.
  void check_usable(const worker_state& worker, const char* operation) const;

  void node_barrier();
  /// clean: a cluster-wide barrier first, so that no node leaves while others need it.
  void shutdown(bool clean) noexcept;
  [[nodiscard]] Stats stats() const;
  // Snapshots (node_snapshot.cpp): collective, while no worker pulls or pushes.
  void save(const std::string& path);
  void load(const std::string& path);

 private:
  // --- node_ops.cpp ----------------------------------------------------------------------
  const key_type* host_keys(worker_state& worker, const key_type* keys, std::size_t n);
  template <class Fn>
  void for_each_table_run(const key_type* keys, std::size_t n, Fn fn) const;
  [[nodiscard]] int home_of(key_type key) const noexcept {
    return static_cast<int>(key % static_cast<key_type>(env_.world_size));
  }
  [[nodiscard]] bool is_local(key_type key) const noexcept;  // readable here
  [[nodiscard]] bool writable(write_kind kind, key_type key) const noexcept;
  // Main copies changed: their versions advance (after the values; see write()).
  void bump_versions(const key_type* keys, std::size_t n);
  [[nodiscard]] bool any_main_copy(const key_type* keys, std::size_t n) const noexcept;
  // Validates keys (host copy if they are device memory) and, for the span overloads, the
  // value buffer's length; returns the host keys.
  const key_type* checked_keys(worker_state& worker, const key_type* keys, std::size_t n, const char* operation,
                               std::optional<std::size_t> buffer_values);
  void check_stream(stream_view stream) const;
  void synchronize(stream_view stream);
  // op(store, keys, count, value_offset) per table run, then the stores' work is complete.
  template <class Op>
  void on_rows(const key_type* keys, std::size_t n, Op op);
  // Row operations on held keys given in host memory, any mix of tables.
  void gather_rows(const key_type* keys, std::size_t n, T* out);
  void write_rows(write_kind kind, const key_type* keys, std::size_t n, const T* rows);
  Ticket pull_remote(worker_state& worker, const key_type* keys, std::size_t n, T* out, stream_view stream);
  Ticket write_remote(worker_state& worker, write_kind kind, const key_type* keys, std::size_t n, const T* rows);
  void send_or_fail(int peer, const wire::header& head, const auto&... parts);

  // Rows of held keys given in host memory, any mix of tables (sync managers).
  void extract_rows(const key_type* keys, std::size_t n, T* deltas);
  void refresh_rows(const key_type* keys, std::size_t n, const T* main);
  bool insert_row(key_type key);  // false when the slot pool is full
  void erase_row(key_type key);
  /// Every worker's clock, WORKER_FINISHED for finished or absent workers.
  [[nodiscard]] std::vector<clock_type> worker_clocks();
  /// Where a worker's request for a key not readable here goes first.
  [[nodiscard]] int first_hop(key_type key) const noexcept;
  [[nodiscard]] bool adaptive() const noexcept { return !sync_managers_.empty(); }

  // --- node_serve.cpp (the receive thread) --------------------------------------------------
  void on_message(wire::message&& message) override;
  void on_idle() override;
  void on_failure(const std::string& reason) override;
  void serve_pull(const wire::message& message);
  void serve_write(const wire::message& message);
  void apply_pull_response(const wire::message& message);
  void apply_write_ack(const wire::message& message);
  void apply_directory_update(const wire::message& message);
  std::vector<std::int64_t> read_hints(wire::payload_reader& in, const wire::header& head) const;
  void check_origin(const wire::header& head) const;
  // Forwards the entries routed elsewhere and parks those waiting for a key in transit;
  // pick_payload(picks) gives the per-key payload array of the picked entries.
  void pass_on(const wire::header& head, const batch_routes& routes, std::span<const key_type> keys,
               std::span<const std::int64_t> hints, const auto& pick_payload);
  worker_state* find_worker(int id);
  /// Sends to `node`, or, when that is this node, queues it for this node's receive thread.
  comm_result deliver(int node, const wire::header& head, const auto&... parts) {
    if (node != env_.rank) return cluster_->send(node, head, parts...);
    wire::header self = head;
    self.sender = env_.rank;
    parked_.park(wire::make_message(self, parts...), parking_lot::clock::duration::zero());
    return comm_result::success();
  }
  friend class sync_manager<T>;

  void allocate_home_keys();
  [[nodiscard]] bool owns(key_type key) const noexcept;  // the main copy is here

  // --- node_snapshot.cpp ---------------------------------------------------------------------
  /// Every node in the same call: the smallest contribution of all (see cluster::barrier).
  std::uint64_t agree(std::uint64_t contribution = std::numeric_limits<std::uint64_t>::max());
  /// Replicas flushed into the main copies, then no main copy moves until thaw().
  void freeze_structure();
  void thaw_structure() noexcept;
  /// The main copies held here, in key order (structure frozen).
  [[nodiscard]] std::vector<key_type> main_copies() const;
  void write_snapshot_part(const std::string& file, std::uint64_t id, const snapshot::layout& shape);
  void publish_snapshot(const std::string& path, std::uint64_t id, const snapshot::layout& shape);
  [[nodiscard]] snapshot::layout snapshot_shape() const;

  Options options_;
  cluster_env env_;
  key_space keys_;
  store_kind store_kind_;
  std::vector<std::unique_ptr<store_backend<T>>> stores_;  // one per table

  ticket_source tickets_;  // before the workers: their trackers draw ids from it
  std::mutex workers_mutex_;
  std::vector<std::unique_ptr<worker_state>> workers_;  // by worker id; null when free
  worker_counters retired_;                              // counters of deregistered workers
  local_barrier worker_barrier_;
  std::atomic<bool> shut_down_{false};
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  std::atomic<std::uint64_t> remote_answers_{0};  // answers to this node's remote requests
  std::atomic<std::uint64_t> forward_hops_{0};    // forwarding hops those answers took
  std::atomic<std::uint64_t> replicas_created_{0}, replicas_dropped_{0}, relocations_{0}, replica_rounds_{0};

  std::unique_ptr<key_states> states_;  // roles, versions, directory, location cache
  sampler sampler_{options_};
  mutable std::shared_mutex structure_mutex_;
  // Requests waiting for a key in transit (and messages to this node itself), re-delivered
  // by the receive thread; a sync thread wakes them when keys arrive.
  parking_lot parked_{std::chrono::milliseconds{1}};

  std::unique_ptr<cluster> cluster_;                           // null for a single node
  std::vector<std::unique_ptr<sync_manager<T>>> sync_managers_;  // declared last: stop first  // null for a single node; declared last: stops first
};

}  // namespace gapm::detail
