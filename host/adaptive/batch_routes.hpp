// batch_routes: how one request this node received splits by key: served here, forwarded to
// another node (with the routing hint of the hop), or parked until a key in transit arrives.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <gapm/types.hpp>

#include "host/adaptive/key_states.hpp"
#include "host/adaptive/routing.hpp"

namespace gapm::detail {

struct batch_routes {
  std::vector<std::uint32_t> here;                  // positions in the request
  std::vector<std::vector<std::uint32_t>> to;       // by node
  std::vector<std::vector<std::int64_t>> hints_to;  // by node, one per entry of to[node]
  std::vector<std::uint32_t> parked;

  /// Routes keys[i] (arrived with hints[i]) for which servable(keys[i]) is false. Call with
  /// the node's structure lock held, so that what it reads stays true while it is used.
  template <class Servable>
  batch_routes(const key_states& states, int world_size, std::span<const key_type> keys,
               std::span<const std::int64_t> hints, Servable servable)
      : to(static_cast<std::size_t>(world_size)), hints_to(to.size()) {
    for (std::uint32_t i = 0; i < keys.size(); ++i) {
      if (servable(keys[i])) {
        here.push_back(i);
        continue;
      }
      const next_hop hop = route_request(states.knowledge(keys[i]), hints[i]);
      if (hop.what == next_hop::action::wait) {
        parked.push_back(i);
      } else {
        to[static_cast<std::size_t>(hop.node)].push_back(i);
        hints_to[static_cast<std::size_t>(hop.node)].push_back(hop.hint);
      }
    }
  }
};

/// The entries of `values` at `picks`.
template <class V>
[[nodiscard]] std::vector<V> pick(std::span<const V> values, std::span<const std::uint32_t> picks) {
  std::vector<V> out;
  out.reserve(picks.size());
  for (std::uint32_t i : picks) out.push_back(values[i]);
  return out;
}

/// The rows at `picks` of rows laid out by `offsets` (offsets[i]..offsets[i + 1] is row i), in
/// a `Vector` (e.g. one in pinned memory, for a device store).
template <class V, class Vector = std::vector<V>>
[[nodiscard]] Vector pick_rows(std::span<const V> rows, std::span<const std::size_t> offsets,
                               std::span<const std::uint32_t> picks) {
  Vector out;
  for (std::uint32_t i : picks) out.insert(out.end(), rows.begin() + offsets[i], rows.begin() + offsets[i + 1]);
  return out;
}

}  // namespace gapm::detail
