#include "host/adaptive/action_timer.hpp"

#include <algorithm>
#include <cmath>

namespace gapm::detail {
namespace {

// Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
double normal_quantile(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                 6.680131188771972e+01, -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                 3.754408661907416e+00};
  const double low = 0.02425;
  if (p < low) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -normal_quantile(1 - p);
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

}  // namespace

clock_type poisson_quantile(double q, double lambda) {
  if (lambda <= 0) return 0;
  if (lambda <= 100) {
    double pmf = std::exp(-lambda), cdf = pmf;
    clock_type k = 0;
    while (cdf < q) {
      ++k;
      pmf *= lambda / static_cast<double>(k);
      cdf += pmf;
    }
    return k;
  }
  const double z = normal_quantile(q);
  return static_cast<clock_type>(std::ceil(lambda + z * std::sqrt(lambda) + (z * z - 1) / 6));
}

const std::vector<clock_type>& action_timer::update(const std::vector<clock_type>& clocks) {
  if (estimates_.size() < clocks.size()) {
    estimates_.resize(clocks.size(), initial_);
    last_clocks_.resize(clocks.size(), 0);
    windows_.resize(clocks.size(), 0);
  }
  for (std::size_t w = 0; w < clocks.size(); ++w) {
    if (!timing_on_) {
      windows_[w] = CLOCK_MAX / 2;  // eager: act on everything communicated so far
      continue;
    }
    const bool finished = clocks[w] == WORKER_FINISHED;
    const clock_type ticks = finished ? 0 : clocks[w] - last_clocks_[w];
    if (!finished) last_clocks_[w] = clocks[w];
    double effective = estimates_[w];
    if (ticks != 0) {
      estimates_[w] = (1 - smoothing_) * estimates_[w] + smoothing_ * static_cast<double>(ticks);
      effective = std::max(static_cast<double>(ticks), estimates_[w]);
    }
    windows_[w] = poisson_quantile(quantile_, 2 * effective);
  }
  return windows_;
}

}  // namespace gapm::detail
