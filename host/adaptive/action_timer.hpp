// action_timer: when to act on a worker's intent ("just in time", SPEC behaviour 4).
//
// Per worker it estimates how many clocks pass per sync round (exponential smoothing,
// alpha = timing.smoothing, start timing.initial_estimate, at least the last observed
// advance) and acts on an intent once start <= clock + window, where window is the
// timing.quantile quantile of Poisson(2 x estimate): about two rounds ahead, one to ask for
// the key and one to receive it.
#pragma once

#include <cstdint>
#include <vector>

#include <gapm/types.hpp>

namespace gapm::detail {

/// The smallest k with P[Poisson(lambda) <= k] >= q: exact summation up to lambda = 100,
/// a Cornish-Fisher normal approximation above.
[[nodiscard]] clock_type poisson_quantile(double q, double lambda);

class action_timer {
 public:
  action_timer(double initial_estimate, double smoothing, double quantile, bool timing_on)
      : initial_{initial_estimate}, smoothing_{smoothing}, quantile_{quantile}, timing_on_{timing_on} {}

  /// Called once per sync round with every worker's current clock (WORKER_FINISHED for a
  /// finished worker); returns each worker's window: act on intents with start <= clock + window.
  const std::vector<clock_type>& update(const std::vector<clock_type>& clocks);

  [[nodiscard]] double estimate(std::size_t worker) const { return estimates_.at(worker); }
  /// A new worker took `worker`'s id: its clock starts anew, at the initial pace.
  void restart(std::size_t worker) noexcept {
    if (worker >= estimates_.size()) return;
    estimates_[worker] = initial_;
    last_clocks_[worker] = 0;
  }

 private:
  double initial_, smoothing_, quantile_;
  bool timing_on_;
  std::vector<double> estimates_;
  std::vector<clock_type> last_clocks_;
  std::vector<clock_type> windows_;
};

}  // namespace gapm::detail
