// The MF model's arithmetic: the AdaGrad update of one data point, the loss, the initial
// factors and the bold driver. No gapm calls here: the trainer moves the rows.
//
// Every key's row has length 2 * rank: [factor (rank) | AdaGrad sum of squared gradients (rank)].
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "matrix_market.hpp"

namespace mf {

/// Hyper-parameters of the update (AdaPM's defaults).
struct update_config {
  double learning_rate = 0.001;  ///< AdaPM's `--eps`: the initial step size
  double lambda = 0.05;          ///< L2 weight, divided by the row's or column's point count
  double adagrad_epsilon = 1e-6; ///< AdaPM's ADAGRAD_EPS, inside the square root
};

/// The additive deltas of one SGD step on point (i, j, x), AdaPM's order of operations:
///   g_w = -2 (x - <w, h>) h + 2 lambda w / row_nnz     (g_h likewise with w, h swapped, col_nnz)
///   delta_acc    = g^2
///   delta_factor = -lr * g / sqrt(acc + g^2 + epsilon)
/// `rows` holds the pulled rows of keys {row i, column j}: [w | acc_w | h | acc_h], each
/// `rank` long; `deltas` receives the same shape. Both hold 4 * rank values.
void adagrad_deltas(const double* rows, double* deltas, std::uint32_t rank, double x, double row_nnz,
                    double col_nnz, const update_config& config);

/// Sum over `points` of (x - <w_i, h_j>)^2. w_rows holds rows first_row.. (stride 2 * rank),
/// h_rows holds all columns (stride 2 * rank).
double squared_error(std::span<const matrix_entry> points, const double* w_rows, std::uint64_t first_row,
                     const double* h_rows, std::uint32_t rank);

/// Sum of the squared factor entries of `count` consecutive rows (stride 2 * rank).
double factor_norm2(const double* rows, std::uint64_t count, std::uint32_t rank);

/// `count` initial rows [f | 0]: f drawn N(0, 1/sqrt(sqrt(rank))), row after row, from a
/// Mersenne Twister seeded with `seed` (AdaPM: H with seed + 133273, W with seed).
std::vector<double> initial_rows(std::uint64_t count, std::uint32_t rank, std::uint32_t seed);

/// Bold driver: the learning rate after an epoch; x1.05 if the loss improved, x0.5 otherwise.
double bold_driver(double learning_rate, double loss, double previous_loss);

}  // namespace mf
