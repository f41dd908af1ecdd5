// node_parts<T>: what the parts of a node share — its settings and place in the cluster, its
// rows, what it knows of every key, its workers, its sync channels — and the few rules they
// all apply (which keys are served here, where a request goes first, the one way out).
//
// Locking: a key's role (absent / main / pending / replica) changes together with its row slot
// under the exclusive `structure` lock; every local row operation holds it shared, so a key it
// found readable stays so until the operation is done. Row updates are atomic per row.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <shared_mutex>
#include <vector>

#include <gapm/options.hpp>
#include <gapm/types.hpp>

#include "comm/cluster.hpp"
#include "comm/cluster_env.hpp"
#include "host/adaptive/key_states.hpp"
#include "host/adaptive/parking_lot.hpp"
#include "host/adaptive/sync_channel.hpp"
#include "host/adaptive/sync_context.hpp"
#include "host/common/key_space.hpp"
#include "host/runtime/local_barrier.hpp"
#include "host/runtime/sampler.hpp"
#include "host/runtime/worker_registry.hpp"
#include "host/store/row_store.hpp"

namespace gapm::detail {

/// How a value-carrying operation changes the store.
enum class write_kind { add, assign };

template <class T>
struct node_parts {
  /// Validates the options, reads the cluster environment, checks the memory plan and
  /// allocates this node's home keys; joins no cluster yet.
  explicit node_parts(Options given);

  Options options;
  cluster_env env;
  key_space keys;
  store_kind store;
  int device;  ///< the GPU of this node (LOCAL_RANK round robin); 0 without a device platform
  row_store<T> rows;
  std::unique_ptr<key_states> states;  // with more than one node: roles, versions, directory
  mutable std::shared_mutex structure;
  worker_registry workers;
  local_barrier worker_barrier;
  sampler sampling{options};
  std::atomic<bool> shut_down{false};
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  sync_counters sync;
  std::atomic<std::uint64_t> remote_answers{0};  // answers to this node's remote requests
  std::atomic<std::uint64_t> forward_hops{0};    // forwarding hops those answers took
  // Requests waiting for a key on its way here, and messages this node sent itself:
  // re-delivered by the receive thread, woken when keys arrive.
  parking_lot parked{std::chrono::milliseconds{1}};

  std::unique_ptr<sync_context<T>> sync_view;            // what the channels see of this node
  std::unique_ptr<cluster> net;                          // null for a single node
  std::vector<std::unique_ptr<sync_channel<T>>> channels;  // none without adaptive management

  [[nodiscard]] int rank() const noexcept { return env.rank; }
  [[nodiscard]] int world_size() const noexcept { return env.world_size; }
  [[nodiscard]] bool adaptive() const noexcept { return !channels.empty(); }

  /// Served here for this node's own workers: a main copy or a ready replica.
  [[nodiscard]] bool readable(key_type key) const noexcept { return !states || states->readable(key); }
  /// The main copy is here.
  [[nodiscard]] bool owns(key_type key) const noexcept { return !states || states->role(key) == key_role::main; }
  /// A push may land in a replica (its delta travels); a set only in the main copy.
  [[nodiscard]] bool writable(write_kind kind, key_type key) const noexcept {
    return kind == write_kind::add ? readable(key) : owns(key);
  }
  /// Where a worker's request for a key not readable here goes first.
  [[nodiscard]] int first_hop(key_type key) const noexcept;

  /// Main copies changed: the versions of shared ones advance (after their values, or, for
  /// writes still queued on a stream, before them: a replica's refresh reads the version
  /// first and gathers the value behind every queued write, so it never takes the new
  /// version with the old value).
  void bump_versions(const key_type* keys, std::size_t n);
  /// A main copy whose updates advance its version (one that replicas compare with).
  [[nodiscard]] bool versioned(key_type key) const noexcept {
    return states && states->role(key) == key_role::main && states->shared(key);
  }

  /// The one way out: to a peer over the cluster, or to this node itself (sync messages to
  /// their channel, the rest to the receive thread). Fails only when the cluster has.
  comm_result send(int node, std::vector<std::byte>&& frame);
  /// Hands a message this node sent itself to where received ones go.
  void deliver_here(wire::message&& message);

  /// Throws logic_error unless `worker` may still be used for `operation`, comm_error when
  /// the cluster has failed.
  void check_usable(const worker_state& worker, const char* operation) const;

  /// Creates the sync channels (adaptive management; before the cluster delivers anything).
  void make_channels();
};

}  // namespace gapm::detail
