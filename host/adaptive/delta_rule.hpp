// delta_rule: which replica deltas travel in a sync round (option sync.threshold), decided
// from the delta's measure (host/common/delta_measure.hpp), taken where the row lives.
//
// "Changed" means some value differs in its bits from its sync_state (delta_measure.hpp);
// never a norm, since the square of a tiny double underflows to 0 and a NaN compares false.
// The L2 norm matters only for a positive threshold, which holds small deltas back (they
// accumulate in the replica until they pass it or the replica is dropped).
#pragma once

#include <cmath>

#include "host/common/delta_measure.hpp"

namespace gapm::detail {

enum class delta_action {
  none,  ///< nothing changed: nothing to send or keep
  hold,  ///< below sync.threshold: leave it in the replica, where it grows until it travels
  send,  ///< send it to the main copy now
};

/// What to do with the delta of a replica that stays (threshold: -1 send every round, 0 send
/// what changed, > 0 hold back deltas whose L2 norm is below it, inf hold everything). A delta
/// held back stays in the replica (it is not taken) and grows until it passes the threshold.
[[nodiscard]] inline delta_action classify_delta(const delta_measure& m, double threshold) noexcept {
  if (threshold < 0) return delta_action::send;
  if (m.changed == 0) return delta_action::none;
  if (threshold == 0) return delta_action::send;
  return std::sqrt(m.squares) < threshold ? delta_action::hold : delta_action::send;  // NaN sends
}

/// The last delta of a replica being dropped travels whenever it changed anything.
[[nodiscard]] inline bool final_delta_travels(const delta_measure& m, double threshold) noexcept {
  return threshold < 0 || m.changed != 0;
}

}  // namespace gapm::detail
