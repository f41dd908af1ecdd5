// Durations from option values in seconds. Options are range-checked at start
// (Options::validate), but a conversion must never be undefined behaviour even so: a double
// out of the target's range (inf, 1e300) makes static_cast UB, so these saturate.
#pragma once

#include <chrono>
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace gapm::detail {

/// `seconds`, clamped to [0, 100 years], as nanoseconds (NaN counts as 0).
[[nodiscard]] inline std::chrono::nanoseconds saturated_seconds(double seconds) noexcept {
  constexpr double most = 100.0 * 365 * 24 * 3600;  // far below int64 nanoseconds' 292 years
  if (!(seconds > 0)) return std::chrono::nanoseconds{0};
  return std::chrono::nanoseconds{static_cast<std::int64_t>(std::min(seconds, most) * 1e9)};
}

/// The same, in whole milliseconds.
[[nodiscard]] inline std::chrono::milliseconds saturated_ms(double seconds) noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(saturated_seconds(seconds));
}

}  // namespace gapm::detail
