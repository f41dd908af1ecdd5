// node_impl<T>: the runtime behind Node<T> and Worker<T>: the node's lifetime, its workers'
// clocks and barriers, and its statistics, composed of parts with one job each:
//   node_parts      what they all share (rows, key states, workers, channels, the way out)
//   worker_ops      the worker side of pull, push, set and intent
//   request_server  the receive side: serving peers, applying answers (the receive thread)
//   sampling_ops    the sampling API
//   snapshots       save and load
// The adaptive layer (host/adaptive/: sync channels) sees the node through a sync_context.
#pragma once

#include <string>

#include <gapm/options.hpp>
#include <gapm/stats.hpp>
#include <gapm/types.hpp>

#include "host/runtime/node_parts.hpp"
#include "host/runtime/request_server.hpp"
#include "host/runtime/sampling_ops.hpp"
#include "host/runtime/snapshots.hpp"
#include "host/runtime/worker_ops.hpp"

namespace gapm::detail {

template <class T>
class node_impl {
 public:
  /// Allocates this node's keys, joins the cluster (more than one node) and starts its threads.
  explicit node_impl(Options options);
  ~node_impl();  ///< leaves abortively if shutdown() was not called; never throws
  node_impl(const node_impl&) = delete;
  node_impl& operator=(const node_impl&) = delete;

  [[nodiscard]] int rank() const noexcept { return parts_.rank(); }
  [[nodiscard]] int world_size() const noexcept { return parts_.world_size(); }
  [[nodiscard]] const Options& options() const noexcept { return parts_.options; }
  [[nodiscard]] const key_space& keys() const noexcept { return parts_.keys; }
  [[nodiscard]] std::string store_name() const { return std::string(parts_.rows.name()); }

  worker_state& register_worker(int id);
  void deregister_worker(worker_state& worker) noexcept;
  void check_usable(const worker_state& worker, const char* operation) const {
    parts_.check_usable(worker, operation);
  }

  worker_ops<T>& ops() noexcept { return ops_; }
  sampling_ops<T>& sampling() noexcept { return sampling_; }
  snapshots<T>& snapshot() noexcept { return snapshots_; }

  void advance_clock(worker_state& worker);
  /// Returns once every sync channel of this node has completed two more rounds.
  void wait_sync(worker_state& worker);
  void worker_barrier(worker_state& worker);
  void finalize(worker_state& worker);
  void node_barrier();
  /// clean: a cluster-wide barrier first, so that no node leaves while others need it.
  void shutdown(bool clean) noexcept;
  [[nodiscard]] Stats stats() const;

 private:
  node_parts<T> parts_;
  request_server<T> server_{parts_};
  worker_ops<T> ops_{parts_};
  sampling_ops<T> sampling_{parts_, ops_};
  snapshots<T> snapshots_{parts_};
};

}  // namespace gapm::detail
