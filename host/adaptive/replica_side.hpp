// replica_side: what one sync channel asks of the owners each round, and what it does with
// their answers. A round registers the intents that are due, asks for the keys intended here
// but held elsewhere (they become pending replicas), and for every replica sends its delta
// (value - sync_state, exactly once, when sync.threshold lets it travel: with the data plane
// GPU to GPU) with a refresh request — or, once its intent has ended, its last delta, and
// frees it. Answers refresh replicas (value = main + unsent local updates) or hand over main
// copies, whose unsent local updates join them.
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
  class delta_buffer;

  void ask_for_wanted_keys();
  // Adds a refresh entry to the request for the key's first hop, unless that is this node (a
  // relocation here is under way).
  void ask_refresh(std::vector<sync_request<T>>& to, key_type key);
  // Adds the deltas held for `keys` (taken from replicas dropped before) to their rows.
  void fold_held_deltas(const std::vector<key_type>& keys);
  // The last deltas of the replicas being dropped (`hops`: each one's first hop): those that
  // travel join the requests and their buffers; then the rows are freed.
  void take_last_deltas(const std::vector<key_type>& drop, const std::vector<int>& hops, double threshold,
                        std::vector<sync_request<T>>& to, std::vector<delta_buffer>& buffers);
  [[nodiscard]] std::size_t values_of(const std::vector<key_type>& keys) const noexcept;

  sync_context<T>& ctx_;
  channel_state<T>& state_;
  int channel_;
};

}  // namespace gapm::detail
