// owner_side: how one sync channel answers the sync requests of other nodes. For the keys
// whose main copy is here it merges the replicas' deltas, decides between replication and
// relocation (host/adaptive/placement.hpp), answers refreshes (the main value only when the
// replica is behind) and hands main copies over; entries for keys held elsewhere travel on by
// the routing rule, and entries for keys on their way here wait in the channel's parking lot.
#pragma once

#include "comm/wire.hpp"
#include "host/adaptive/channel_state.hpp"
#include "host/adaptive/parking_lot.hpp"
#include "host/adaptive/sync_context.hpp"
#include "host/adaptive/sync_messages.hpp"

namespace gapm::detail {

template <class T>
class owner_side {
 public:
  owner_side(sync_context<T>& context, channel_state<T>& state, parking_lot& parked, int channel)
      : ctx_{context}, state_{state}, parked_{parked}, channel_{channel} {}

  /// Serves one sync request (validated here; malformed ones throw before any change).
  void serve(const wire::message& message);

  /// How long a main copy that arrived stays before it may move on: long enough for the
  /// requests that waited for it here to be served (a few microseconds when the receive thread
  /// is not starved), short against a sync round trip.
  static constexpr std::chrono::microseconds dwell{500};

 private:
  // The entries of one request, by what happens to them here.
  struct plan {
    std::vector<std::uint32_t> merge, replicate, relocate, parked;
    std::vector<key_type> untracked;  // replicated without a record yet (see key_states)
    std::vector<std::vector<std::uint32_t>> forward;
    std::vector<std::vector<std::int64_t>> forward_hints;
    std::uint64_t handled = 0;
  };

  plan classify(const sync_request<T>& request, int origin);
  void merge_and_replicate(const sync_request<T>& request, const plan& p, sync_response<T>& answer);
  void relocate(const sync_request<T>& request, const plan& p, int origin, sync_response<T>& answer);
  bool just_arrived(key_type key);
  // Whether every entry with a delta is merged here (none goes on or waits).
  static bool merges_every_delta(const sync_request<T>& request, const plan& p);
  // Copies deltas that came on the data plane into request.deltas (call in the node's device scope).
  void take_deltas_to_host(sync_request<T>& request);

  sync_context<T>& ctx_;
  channel_state<T>& state_;
  parking_lot& parked_;
  int channel_;
  owned_event gathered_;  // with the data plane: the answer's rows are there
};

}  // namespace gapm::detail
