// AdaGrad update, loss and initialisation of the MF sample.
#include "mf_model.hpp"

#include <cmath>
#include <random>

namespace mf {

void adagrad_deltas(const double* rows, double* deltas, std::uint32_t rank, double x, double row_nnz,
                    double col_nnz, const update_config& config) {
  const double* w = rows;
  const double* w_acc = rows + rank;
  const double* h = rows + 2 * rank;
  const double* h_acc = rows + 3 * rank;
  double* dw = deltas;
  double* dw_acc = deltas + rank;
  double* dh = deltas + 2 * rank;
  double* dh_acc = deltas + 3 * rank;

  double wh = 0;
  for (std::uint32_t z = 0; z < rank; ++z) wh += w[z] * h[z];
  const double error_term = -2.0 * (x - wh);
  const double w_reg = 2.0 * config.lambda / row_nnz;
  const double h_reg = 2.0 * config.lambda / col_nnz;
  for (std::uint32_t z = 0; z < rank; ++z) {
    const double gw = error_term * h[z] + w_reg * w[z];
    const double gh = error_term * w[z] + h_reg * h[z];
    dw_acc[z] = gw * gw;
    dh_acc[z] = gh * gh;
    // The step uses the accumulator including this gradient: the pulled sum plus g^2.
    dw[z] = -config.learning_rate * gw / std::sqrt(w_acc[z] + dw_acc[z] + config.adagrad_epsilon);
    dh[z] = -config.learning_rate * gh / std::sqrt(h_acc[z] + dh_acc[z] + config.adagrad_epsilon);
  }
}

double squared_error(std::span<const matrix_entry> points, const double* w_rows, std::uint64_t first_row,
                     const double* h_rows, std::uint32_t rank) {
  const std::uint64_t stride = 2 * std::uint64_t{rank};
  double sum = 0;
  for (const matrix_entry& e : points) {
    const double* w = w_rows + (e.row - first_row) * stride;
    const double* h = h_rows + e.col * stride;
    double wh = 0;
    for (std::uint32_t z = 0; z < rank; ++z) wh += w[z] * h[z];
    const double diff = e.value - wh;
    sum += diff * diff;
  }
  return sum;
}

double factor_norm2(const double* rows, std::uint64_t count, std::uint32_t rank) {
  const std::uint64_t stride = 2 * std::uint64_t{rank};
  double sum = 0;
  for (std::uint64_t k = 0; k < count; ++k)
    for (std::uint32_t z = 0; z < rank; ++z) sum += rows[k * stride + z] * rows[k * stride + z];
  return sum;
}

std::vector<double> initial_rows(std::uint64_t count, std::uint32_t rank, std::uint32_t seed) {
  std::mt19937 engine(seed);
  std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(std::sqrt(static_cast<double>(rank))));
  const std::uint64_t stride = 2 * std::uint64_t{rank};
  std::vector<double> rows(count * stride, 0.0);  // accumulators start at 0
  for (std::uint64_t k = 0; k < count; ++k)
    for (std::uint32_t z = 0; z < rank; ++z) rows[k * stride + z] = normal(engine);
  return rows;
}

double bold_driver(double learning_rate, double loss, double previous_loss) {
  return loss < previous_loss ? learning_rate * 1.05 : learning_rate * 0.5;
}

}  // namespace mf
