// sync_context: what the adaptive layer needs of its node — and nothing more. The node builds
// one and hands it to each sync channel (instead of letting the channels reach into it).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <shared_mutex>
#include <vector>

#include <gapm/options.hpp>
#include <gapm/types.hpp>

#include "comm/cluster.hpp"
#include "host/adaptive/key_states.hpp"
#include "host/common/key_space.hpp"
#include "host/store/row_store.hpp"

namespace gapm::detail {

/// What the sync channels count for Stats.
struct sync_counters {
  std::atomic<std::uint64_t> replicas_created{0}, replicas_dropped{0}, relocations{0}, replica_rounds{0};
  std::atomic<std::uint64_t> deltas_sent{0}, plane_delta_bytes{0};  // rows; bytes of them on the data plane
};

template <class T>
struct sync_context {
  const Options& options;
  const key_space& keys;
  int rank = 0;
  int world_size = 1;
  key_states& states;
  /// A key's role changes together with its row slot under the exclusive lock; row operations
  /// on keys whose role was checked hold it shared.
  std::shared_mutex& structure;
  row_store<T>& rows;
  cluster& net;
  sync_counters& counters;
  std::function<std::vector<clock_type>()> worker_clocks;  ///< WORKER_FINISHED for finished workers
  std::function<int(key_type)> first_hop;                   ///< where a request for a key goes first
  /// The one way out: to a peer, or (node == rank) to this node itself.
  std::function<comm_result(int node, std::vector<std::byte>&& frame)> send;
  std::function<void()> keys_arrived;  ///< main copies or replicas arrived: wake waiting requests
};

}  // namespace gapm::detail
