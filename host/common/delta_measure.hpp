// delta_measure: what a replica's sync round needs to know of one row's delta (value -
// sync_state) to decide whether it travels (host/adaptive/delta_rule.hpp), measured where the
// row lives without taking the delta: the same code on the host (cpu_store) and in the device
// kernel (cuda/row_ops.hpp), so only these 16 bytes per row leave the GPU for the decision.
#pragma once

#include <cstdint>

#include "host/common/optimizer_math.hpp"  // GAPM_HOST_DEVICE

namespace gapm::detail {

struct delta_measure {
  double squares = 0;         ///< the sum of the squared values (may underflow to 0, or be NaN)
  std::uint32_t changed = 0;  ///< 1 when some value is non-zero or NaN
  std::uint32_t unused = 0;   ///< padding, so host and device agree on the layout

  /// Takes one value of the delta into account.
  template <class T>
  GAPM_HOST_DEVICE void take(T value) noexcept {
    if (!(value == T{})) changed = 1;  // true for NaN as well
    const auto v = static_cast<double>(value);
    squares += v * v;
  }
};
static_assert(sizeof(delta_measure) == 16);

}  // namespace gapm::detail
