// Which replica deltas travel (host/adaptive/delta_rule.hpp): "changed" is never decided by a norm.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "host/adaptive/delta_rule.hpp"

namespace {

using gapm::detail::classify_delta;
using gapm::detail::delta_action;
using gapm::detail::final_delta_travels;

// The measure of a delta of n values against a sync_state of zeros (the stores take it from
// a replica's value and sync_state; test_cpu_store.cpp checks how).
template <class T>
gapm::detail::delta_measure measure(const T* delta, std::size_t n) {
  gapm::detail::delta_measure m;
  for (std::size_t j = 0; j < n; ++j) m.changed |= gapm::detail::differ_in_bits(delta[j], T{}) ? 1u : 0u;
  m.squares = gapm::detail::delta_measure::squares_of(n, [&](std::size_t j) { return delta[j]; });
  return m;
}

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();

TEST(DeltaRule, TinyAndNanDeltasAreChanges) {
  const double tiny[2] = {1e-200, 0}, not_a_number[2] = {0, nan}, zero[2] = {0, 0};
  EXPECT_EQ(classify_delta(measure(tiny, 2), 0.0), delta_action::send);
  EXPECT_EQ(classify_delta(measure(not_a_number, 2), 0.0), delta_action::send);
  EXPECT_EQ(classify_delta(measure(zero, 2), 0.0), delta_action::none);
  EXPECT_TRUE(final_delta_travels(measure(tiny, 2), 0.0));
  EXPECT_TRUE(final_delta_travels(measure(not_a_number, 2), inf));
  EXPECT_FALSE(final_delta_travels(measure(zero, 2), 0.0));
}

TEST(DeltaRule, APositiveThresholdHoldsSmallDeltasBackButNeverDropsThem) {
  const double small[2] = {0.3, 0.4}, large[2] = {3, 4}, tiny[1] = {1e-200}, not_a_number[1] = {nan};
  EXPECT_EQ(classify_delta(measure(small, 2), 1.0), delta_action::hold);   // norm 0.5
  EXPECT_EQ(classify_delta(measure(large, 2), 1.0), delta_action::send);   // norm 5
  EXPECT_EQ(classify_delta(measure(large, 2), 5.0), delta_action::send);   // at the threshold
  EXPECT_EQ(classify_delta(measure(tiny, 1), 1.0), delta_action::hold);    // norm underflows, still a change
  EXPECT_EQ(classify_delta(measure(not_a_number, 1), 1.0), delta_action::send);
  EXPECT_EQ(classify_delta(measure(large, 2), inf), delta_action::hold);
  EXPECT_TRUE(final_delta_travels(measure(small, 2), 1.0));
}

TEST(DeltaRule, MinusOneSendsEveryRound) {
  const std::int64_t zero[3] = {0, 0, 0};
  EXPECT_EQ(classify_delta(measure(zero, 3), -1.0), delta_action::send);
  EXPECT_TRUE(final_delta_travels(measure(zero, 3), -1.0));
  const std::int64_t one[1] = {1};
  EXPECT_EQ(classify_delta(measure(one, 1), 0.0), delta_action::send);
}

}  // namespace
