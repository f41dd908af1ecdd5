// routing: where a request for a key goes when this node cannot serve it (SPEC behaviour 6).
//
// Every relocation has a counter, unique and increasing per key. Three kinds of knowledge
// point at the key's owner, each dated by such a counter:
//   - the home's directory (the owner it last heard of),
//   - the old owner's forwarding pointer (to whom it last handed the main copy),
//   - a forwarded request's hint (the counter of the knowledge that sent it here).
// A request follows the newest knowledge, so the counters along its path never decrease and
// every hop either reaches the owner or skips a relocation: no ping-pong while a relocation
// is in flight. It waits only where the key is provably on its way: the hint is newer than
// anything this node did with the key, and this node asked for it. Requests with no dated
// knowledge start at the home (or at a location cache's guess, for a worker's first hop).
#pragma once

#include <cstdint>

namespace gapm::detail {

/// "No dated knowledge": a counter below every real one.
inline constexpr std::int64_t no_hint = -1;

/// What this node knows about a key it cannot serve.
struct key_knowledge {
  int rank = 0;                     ///< this node
  int home = 0;                     ///< key % world_size
  bool requested = false;           ///< this node asked for the key and has no answer yet
  std::int64_t last_event = no_hint;  ///< counter of the last relocation this node took part in
  int successor = -1;               ///< to whom this node last handed the main copy, or -1
  int directory_owner = -1;         ///< at the home only: the owner it last heard of
  std::int64_t directory_counter = no_hint;
};

struct next_hop {
  enum class action { forward, wait } what = action::forward;
  int node = -1;                  ///< forward: where to
  std::int64_t hint = no_hint;    ///< forward: the counter of the knowledge behind the hop
};

/// Where a peer's request for the key goes next, given the hint it arrived with.
[[nodiscard]] next_hop route_request(const key_knowledge& known, std::int64_t hint) noexcept;

}  // namespace gapm::detail
