// replica_side: what one sync channel asks of the owners each round, and what it does with
// their answers. A round registers the intents that are due, asks for the keys intended here
// but held elsewhere (they become pending replicas), and for every replica sends its delta
// (value - sync_state, exactly once) with a refresh request — or, once its intent has ended,
// its last delta, and frees it. Answers refresh replicas (value = main + unsent local
// updates) or hand over main copies, whose unsent local updates join them.
#pragma once

#include <vector>

#include "comm/wire.hpp"
#include "host/adaptive/channel_state.hpp"
#include "host/adaptive/sync_context.hpp"
#include "host/adaptive/sync_messages.hpp"

namespace gapm::detail {

template <class T>
class replica_side {
 public:
  replica_side(sync_context<T>& context, channel_state<T>& state, int channel)
      : ctx_{context}, state_{state}, channel_{channel} {}

  /// The requests of a new round, one per peer (empty ones too: an owner learns from them
  /// who still intends what). `flush`: send deltas held back by sync.threshold as well.
  [[nodiscard]] std::vector<sync_request<T>> build_round(bool flush);

  /// Applies one answer of the open round (validated by the caller).
  void apply(const sync_response<T>& answer, int sender);

 private:
  void ask_for_wanted_keys();
  // Adds the entry to the request for the key's first hop, or keeps its delta when that is this
  // node (a relocation here is under way: the delta joins the main copy when it arrives).
  void add(std::vector<sync_request<T>>& to, key_type key, std::uint8_t ask, std::int64_t version,
           std::span<const T> delta);
  // Adds the delta held back for `key` (sync.threshold) to `delta`.
  void add_held_delta(key_type key, std::span<T> delta);

  sync_context<T>& ctx_;
  channel_state<T>& state_;
  int channel_;
};

}  // namespace gapm::detail
