// delta_measure: what a replica's sync round needs to know of one row's delta (value -
// sync_state) to decide whether it travels (host/adaptive/delta_rule.hpp), measured where the
// row lives without taking the delta: the same code on the host (cpu_store) and in the device
// kernel (cuda/row_ops.hpp), so only these 16 bytes per row leave the GPU for the decision.
//
// "Changed" compares bits: the replica changed since its delta was last taken when a value
// differs in its bits from its sync_state. Never by a norm (a tiny double's square underflows
// to 0) nor by value - sync_state == 0 (a NaN or an infinity the main copy already has would
// look changed forever, and send a NaN delta every round).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "host/common/optimizer_math.hpp"  // GAPM_HOST_DEVICE

namespace gapm::detail {

/// Whether `a` and `b` differ in their bits (a NaN is itself; 0 and -0 differ).
template <class T>
GAPM_HOST_DEVICE inline bool differ_in_bits(T a, T b) noexcept {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8);
  using bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  bits x, y;
  std::memcpy(&x, &a, sizeof x);
  std::memcpy(&y, &b, sizeof y);
  return x != y;
}

struct delta_measure {
  double squares = 0;         ///< the sum of the squared delta values (may underflow to 0, or be
                              ///< NaN); measured only when asked for, and only for a changed row
  std::uint32_t changed = 0;  ///< 1 when some value differs from its sync_state
  std::uint32_t unused = 0;   ///< padding, so host and device agree on the layout

  /// The sum of the squares of n delta values, value_at(j) being the j-th: eight partial sums,
  /// so that the additions do not wait on one another.
  template <class ValueAt>
  GAPM_HOST_DEVICE static double squares_of(std::size_t n, ValueAt value_at) noexcept {
    constexpr std::size_t lanes = 8;
    double partial[lanes] = {};
    std::size_t j = 0;
    for (; j + lanes <= n; j += lanes)
      for (std::size_t lane = 0; lane < lanes; ++lane) {
        const auto v = static_cast<double>(value_at(j + lane));
        partial[lane] += v * v;
      }
    for (; j < n; ++j) {
      const auto v = static_cast<double>(value_at(j));
      partial[0] += v * v;
    }
    double sum = 0;
    for (double p : partial) sum += p;
    return sum;
  }
};
static_assert(sizeof(delta_measure) == 16);

}  // namespace gapm::detail
