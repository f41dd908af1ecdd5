// A synthetic MF data set: a rows x cols matrix whose revealed cells have Zipf-distributed
// columns and uniform rows, with values from a planted low-rank model plus noise (the kind
// of matrix AdaPM's and Lapse's MF experiments use).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "matrix_market.hpp"

namespace mf {

/// P(k) proportional to (k + 1)^-s over k in [0, n): k = 0 is the most frequent value.
/// Draws by binary search over the cumulative weights (n doubles of memory).
class zipf_distribution {
 public:
  /// Throws std::invalid_argument for n = 0 or s < 0.
  zipf_distribution(std::uint64_t n, double s);

  template <class Engine>
  std::uint64_t operator()(Engine& engine) const {
    const double u = std::uniform_real_distribution<double>(0.0, cumulative_.back())(engine);
    return draw(u);
  }

  /// The probability of value k.
  [[nodiscard]] double probability(std::uint64_t k) const;

 private:
  [[nodiscard]] std::uint64_t draw(double u) const;
  std::vector<double> cumulative_;  // (n): cumulative_[k] = sum of the weights of 0..k
};

/// What to generate. Deterministic: the same configuration gives the same files (with the
/// same standard library: the distributions are libstdc++'s).
struct generator_config {
  std::uint64_t rows = 0;
  std::uint64_t cols = 0;
  std::uint64_t train_points = 0;  ///< revealed cells of train.mmc
  double zipf = 1.1;               ///< exponent of the column distribution (0 = uniform)
  double test_fraction = 0.1;      ///< test.mmc gets round(test_fraction * train_points) more cells
  std::uint64_t seed = 1;
  std::uint32_t planted_rank = 10;  ///< rank of the ground truth W* H*^T
  double noise_sd = 0.1;            ///< standard deviation of the Gaussian noise on each value
  int value_decimals = 4;           ///< values are rounded to this many decimals (short files)
};

/// The two halves of a generated data set: no (row, col) cell appears twice in train and test together.
struct generated_data {
  sparse_matrix train;
  sparse_matrix test;
};

/// Draws the data set. Columns: Zipf(zipf) over popularity ranks, and the ranks are
/// scattered over the column ids by a seeded permutation, so that contiguous column blocks
/// (DSGD) get similar loads. Rows: uniform. A cell drawn twice is drawn again. Values:
/// <w*_i, h*_j> + N(0, noise_sd^2) with w*, h* entries N(0, 1/sqrt(planted_rank)), so
/// that the values have variance about 1 + noise_sd^2.
/// Throws std::invalid_argument for an empty shape, or for more cells than half the
/// matrix (rejection of duplicates would crawl).
generated_data generate_zipf_matrix(const generator_config& config);

}  // namespace mf
