// delta_rule: which replica deltas travel in a sync round (option sync.threshold).
//
// "Changed" means some element is non-zero or NaN; never a norm, since the square of a tiny
// double underflows to 0 and a NaN compares false. The L2 norm matters only for a positive
// threshold, which holds small deltas back (they accumulate until they pass it or the
// replica is dropped).
#pragma once

#include <cmath>
#include <cstddef>

namespace gapm::detail {

enum class delta_action {
  none,  ///< nothing changed: nothing to send or keep
  hold,  ///< below sync.threshold: keep it, add it to the next round's delta
  send,  ///< send it to the main copy now
};

template <class T>
[[nodiscard]] bool delta_changed(const T* delta, std::size_t n) noexcept {
  for (std::size_t j = 0; j < n; ++j)
    if (!(delta[j] == T{})) return true;  // true for NaN as well
  return false;
}

/// What to do with the delta of a replica that stays (threshold: -1 send every round, 0 send
/// what changed, > 0 hold back deltas whose L2 norm is below it, inf hold everything).
template <class T>
[[nodiscard]] delta_action classify_delta(const T* delta, std::size_t n, double threshold) noexcept {
  if (threshold < 0) return delta_action::send;
  if (!delta_changed(delta, n)) return delta_action::none;
  if (threshold == 0) return delta_action::send;
  double sum = 0;
  for (std::size_t j = 0; j < n; ++j) sum += static_cast<double>(delta[j]) * static_cast<double>(delta[j]);
  return std::sqrt(sum) < threshold ? delta_action::hold : delta_action::send;  // NaN sends
}

/// The last delta of a replica being dropped travels whenever it changed anything.
template <class T>
[[nodiscard]] bool final_delta_travels(const T* delta, std::size_t n, double threshold) noexcept {
  return threshold < 0 || delta_changed(delta, n);
}

}  // namespace gapm::detail
