// gapm::optimizer_step: the fused optimizer steps of Worker::apply_step (and its shorthands
// apply_sgd, apply_adagrad, apply_adam). A step updates rows in place as additive deltas —
// parameters and optimizer state alike — so that replicas stay exact: every replica's delta
// reaches the main copy once, and the optimizer state lives in the same row as the parameters.
#pragma once

#include <cstdint>

namespace gapm {

/// Which update a step applies, and the row layout it expects for a parameter dimension d:
///   sgd      row = [param(d)]                      param -= lr * g
///   adagrad  row = [param(d) | sum of g²(d)]       acc += g²; param -= lr * g / (sqrt(acc) + eps)
///   adam     row = [param(d) | m(d) | v(d)]        m += (1 - b1)(g - m); v += (1 - b2)(g² - v);
///                                                  param -= lr * m̂ / (sqrt(v̂) + eps), with the
///                                                  bias corrections of step t
/// Gradients hold d values per key. Repeated keys in one call have their gradients summed
/// first (one step per distinct key).
enum class optimizer { sgd = 1, adagrad = 2, adam = 3 };

struct optimizer_step {
  optimizer kind = optimizer::sgd;
  double lr = 0.01;
  double eps = 1e-10;    ///< adagrad, adam
  double beta1 = 0.9;    ///< adam
  double beta2 = 0.999;  ///< adam
  std::int64_t t = 1;    ///< adam: the step number, from 1 (bias correction)

  /// Row values per parameter value: 1 (sgd), 2 (adagrad), 3 (adam).
  [[nodiscard]] constexpr std::uint32_t row_factor() const noexcept {
    return kind == optimizer::sgd ? 1u : kind == optimizer::adagrad ? 2u : 3u;
  }
};

}  // namespace gapm
