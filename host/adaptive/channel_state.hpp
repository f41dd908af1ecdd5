// channel_state: what one sync channel knows about its keys, shared by its replica side
// (what this node asks for) and its owner side (what this node answers).
#pragma once

#include <chrono>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <gapm/types.hpp>

#include "host/adaptive/intent_table.hpp"

namespace gapm::detail {

template <class T>
struct channel_state {
  using clock = std::chrono::steady_clock;

  channel_state(intent_table table, int world_size) : intents{std::move(table)}, refresh_asked(static_cast<std::size_t>(world_size)) {}

  intent_table intents;                                 ///< this node's workers' intents for the channel's keys
  std::vector<clock_type> clocks;                       ///< the workers' clocks as of this round
  std::set<key_type> replicas;                          ///< pending and ready replicas, in key order
  std::unordered_set<key_type> wanted;                  ///< intended here, held elsewhere: ask next round
  /// Deltas taken from replicas dropped while their main copy is on its way here: they join it
  /// when it arrives (or the replica, should the key be intended here again first).
  std::unordered_map<key_type, std::vector<T>> held_deltas;
  /// Owner side: the keys each peer asked to refresh in its latest round (who else intends a key).
  std::vector<std::unordered_set<key_type>> refresh_asked;
  std::unordered_map<key_type, clock::time_point> arrived;  ///< main copies that arrived lately

  /// Whether a worker of this node still intends `key` (ended intents are dropped on the way).
  bool intended_here(key_type key) { return intents.has_intent(key, clocks); }
};

}  // namespace gapm::detail
