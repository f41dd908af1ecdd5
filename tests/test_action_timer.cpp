// action_timer: Poisson windows and the clock-rate estimate (SPEC behaviour 4).
#include "host/adaptive/action_timer.hpp"

#include <gtest/gtest.h>

namespace {

using namespace gapm::detail;

double window(double lambda) { return static_cast<double>(poisson_quantile(0.9999, lambda)); }

TEST(ActionTimer, PoissonQuantilesMatchAdaPMsWindows) {
  // AdaPM's table for q = 0.9999: clocks per round e -> window for lambda = 2e.
  EXPECT_NEAR(window(1), 6, 1);
  EXPECT_NEAR(window(2), 9, 1);
  EXPECT_NEAR(window(10), 24, 1);
  EXPECT_NEAR(window(20), 39, 1);
  EXPECT_NEAR(window(100), 139, 1);
  EXPECT_NEAR(window(200), 255, 2);
  EXPECT_NEAR(window(2000), 2170, 3);
  EXPECT_EQ(poisson_quantile(0.5, 0), 0);
}

TEST(ActionTimer, EstimateSmoothsAndNeverLagsTheLastAdvance) {
  action_timer timer(10, 0.1, 0.9999, true);
  std::vector<gapm::clock_type> clocks{0};
  EXPECT_EQ(timer.update(clocks)[0], poisson_quantile(0.9999, 20));  // initial estimate 10
  clocks[0] = 100;                                                  // a sudden jump of 100 clocks
  const auto window = timer.update(clocks)[0];
  EXPECT_DOUBLE_EQ(timer.estimate(0), 0.9 * 10 + 0.1 * 100);
  EXPECT_EQ(window, poisson_quantile(0.9999, 200));  // max(ticks, estimate) = 100
  clocks[0] = 101;
  timer.update(clocks);
  EXPECT_DOUBLE_EQ(timer.estimate(0), 0.9 * 19 + 0.1 * 1);
}

TEST(ActionTimer, EagerModeActsOnEverything) {
  action_timer timer(10, 0.1, 0.9999, false);
  EXPECT_GE(timer.update({5})[0], gapm::CLOCK_MAX / 2);
}

TEST(ActionTimer, FinishedWorkersKeepTheirEstimate) {
  action_timer timer(10, 0.1, 0.9999, true);
  timer.update({0});
  timer.update({gapm::WORKER_FINISHED});
  EXPECT_DOUBLE_EQ(timer.estimate(0), 10);
}

}  // namespace
