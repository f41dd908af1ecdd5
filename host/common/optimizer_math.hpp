// optimizer_math: one value's fused optimizer step as additive deltas (gapm::optimizer_step),
// the same code on the host (cpu_store, the reference) and on the device (cuda/ kernels).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include <gapm/optimizer.hpp>

#if defined(__CUDACC__)
#define GAPM_HOST_DEVICE __host__ __device__
#else
#define GAPM_HOST_DEVICE
#endif

namespace gapm::detail {

/// The step's numbers in the value type, with Adam's bias corrections worked out once.
template <class T>
struct step_constants {
  int kind;             // gapm::optimizer
  std::uint32_t factor; // row values per parameter value (optimizer_step::row_factor)
  T lr, eps, beta1, beta2, correction1, correction2;

  static step_constants make(const optimizer_step& s) {
    const double c1 = 1 - std::pow(s.beta1, static_cast<double>(s.t));
    const double c2 = 1 - std::pow(s.beta2, static_cast<double>(s.t));
    return {static_cast<int>(s.kind), s.row_factor(),       static_cast<T>(s.lr),  static_cast<T>(s.eps),
            static_cast<T>(s.beta1), static_cast<T>(s.beta2), static_cast<T>(c1), static_cast<T>(c2)};
  }
};

/// The deltas of value j of a row of parameter dimension d: `row` is the current row,
/// `delta` receives the row's deltas at j (and d + j, 2d + j for the state). Value j's update
/// reads and writes only its own parameter and state, so the values of a row may be stepped
/// in parallel.
template <class T>
GAPM_HOST_DEVICE inline void step_deltas(const step_constants<T>& c, const T* row, T g, std::size_t d, std::size_t j,
                                         T* delta) {
  if (c.kind == static_cast<int>(optimizer::sgd)) {
    delta[j] = -c.lr * g;
  } else if (c.kind == static_cast<int>(optimizer::adagrad)) {
    const T acc = row[d + j] + g * g;
    delta[j] = -c.lr * g / (static_cast<T>(sqrt(static_cast<double>(acc))) + c.eps);
    delta[d + j] = g * g;
  } else {
    const T m = row[d + j] + (1 - c.beta1) * (g - row[d + j]);
    const T v = row[2 * d + j] + (1 - c.beta2) * (g * g - row[2 * d + j]);
    const T m_hat = m / c.correction1, v_hat = v / c.correction2;
    delta[j] = -c.lr * m_hat / (static_cast<T>(sqrt(static_cast<double>(v_hat))) + c.eps);
    delta[d + j] = m - row[d + j];
    delta[2 * d + j] = v - row[2 * d + j];
  }
}

}  // namespace gapm::detail
