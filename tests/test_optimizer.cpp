// Fused optimizer steps (Worker::apply_step) on one node: each equals pull + compute + push
// bit for bit (the same arithmetic, host/common/optimizer_math.hpp), repeated keys have their
// gradients summed, and misuse is refused with nothing changed.
#include <gapm/gapm.hpp>

#include <cmath>
#include <numeric>
#include <random>

#include <gtest/gtest.h>

#include "expect_error.hpp"

namespace {

using gapm::key_type;
using gapm::optimizer;
using gapm::optimizer_step;
using gapm::testing::expect_error;

constexpr std::uint32_t dim = 4;

// The reference: the step's formulas on one row, written out.
std::vector<double> reference_step(std::vector<double> row, const std::vector<double>& g, const optimizer_step& s) {
  for (std::uint32_t j = 0; j < dim; ++j) {
    if (s.kind == optimizer::sgd) {
      row[j] += -s.lr * g[j];
    } else if (s.kind == optimizer::adagrad) {
      const double acc = row[dim + j] + g[j] * g[j];
      row[j] += -s.lr * g[j] / (std::sqrt(acc) + s.eps);
      row[dim + j] += g[j] * g[j];
    } else {
      const double m = row[dim + j] + (1 - s.beta1) * (g[j] - row[dim + j]);
      const double v = row[2 * dim + j] + (1 - s.beta2) * (g[j] * g[j] - row[2 * dim + j]);
      const double m_hat = m / (1 - std::pow(s.beta1, static_cast<double>(s.t)));
      const double v_hat = v / (1 - std::pow(s.beta2, static_cast<double>(s.t)));
      row[j] += -s.lr * m_hat / (std::sqrt(v_hat) + s.eps);
      row[dim + j] += m - row[dim + j];
      row[2 * dim + j] += v - row[2 * dim + j];
    }
  }
  return row;
}

class EveryOptimizer : public ::testing::TestWithParam<optimizer> {};

TEST_P(EveryOptimizer, AStepEqualsPullComputePushBitForBit) {
  const optimizer_step step{.kind = GetParam(), .lr = 0.05, .eps = 1e-6, .t = 3};
  gapm::Options o;
  o.tables = {{20, dim * step.row_factor()}};
  gapm::Node<double> node(o);
  gapm::Worker<double> w(node, 0);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> value(-1, 1);
  std::vector<key_type> all(20);
  std::iota(all.begin(), all.end(), key_type{0});
  std::vector<double> start(20 * dim * step.row_factor());
  for (auto& v : start) v = std::abs(value(rng));  // state parts stay non-negative
  w.set(all.data(), all.size(), start.data());
  for (int round = 0; round < 5; ++round) {
    const std::vector<key_type> keys{static_cast<key_type>(round), 7, 19};
    std::vector<double> grads(keys.size() * dim);
    for (auto& g : grads) g = value(rng);
    std::vector<std::vector<double>> expected;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      std::vector<double> row(dim * step.row_factor());
      w.pull(&keys[i], 1, row.data());
      expected.push_back(reference_step(row, {grads.begin() + static_cast<long>(i * dim),
                                              grads.begin() + static_cast<long>((i + 1) * dim)}, step));
    }
    EXPECT_TRUE(w.apply_step(keys.data(), keys.size(), grads.data(), step).is_local());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      std::vector<double> row(dim * step.row_factor());
      w.pull(&keys[i], 1, row.data());
      EXPECT_EQ(row, expected[i]) << "key " << keys[i] << " round " << round;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, EveryOptimizer, ::testing::Values(optimizer::sgd, optimizer::adagrad, optimizer::adam));

TEST(Optimizer, RepeatedKeysHaveTheirGradientsSummed) {
  gapm::Options o;
  o.tables = {{5, 2 * dim}};
  gapm::Node<double> node(o);
  gapm::Worker<double> w(node, 0);
  const std::vector<key_type> twice{3, 1, 3};
  const std::vector<double> grads{1, 2, 3, 4, 10, 10, 10, 10, 5, 6, 7, 8};
  w.apply_adagrad(twice.data(), twice.size(), grads.data(), 0.1);
  std::vector<double> row(2 * dim);
  key_type k = 3;
  w.pull(&k, 1, row.data());
  const std::vector<double> summed{6, 8, 10, 12};
  EXPECT_EQ(row, reference_step(std::vector<double>(2 * dim, 0), summed, {.kind = optimizer::adagrad, .lr = 0.1}));
}

TEST(Optimizer, MisuseIsRefusedNamingTheProblemAndChangesNothing) {
  gapm::Options o;
  o.tables = {{5, 3}, {5, 4}};
  gapm::Node<double> node(o);
  gapm::Worker<double> w(node, 0);
  const key_type odd = 1, even = 7;
  const double grads[4] = {1, 1, 1, 1};
  expect_error([&] { w.apply_adagrad(&odd, 1, grads, 0.1); }, "rows of 3 values do not split into 2 parts");
  expect_error([&] { w.apply_adagrad(&even, 1, grads, std::nan("")); }, "learning rate nan is not finite");
  expect_error([&] { w.apply_adagrad(&even, 1, grads, 0.1, 0.0); }, "eps 0 is not positive");
  expect_error([&] { w.apply_adam(&even, 1, grads, 0.1, 0); }, "step number 0 is below 1");
  expect_error([&] { w.apply_step(std::span<const key_type>(&even, 1), std::span<const double>(grads, 3),
                                  {.kind = optimizer::adagrad}); },
               "the gradient buffer holds 3 values, but the 1 keys need 2");
  std::vector<double> row(4);
  w.pull(&even, 1, row.data());
  EXPECT_EQ(row, std::vector<double>(4, 0));
  gapm::Node<std::int64_t> integers(o);
  gapm::Worker<std::int64_t> wi(integers, 0);
  const std::int64_t igrads[4] = {1, 1, 1, 1};
  expect_error([&] { wi.apply_adagrad(&even, 1, igrads, 1); }, "adagrad and adam need float or double values");
  wi.apply_sgd(&even, 1, igrads, 2);  // int64 SGD: exact, for tests
  std::vector<std::int64_t> irow(4);
  wi.pull(&even, 1, irow.data());
  EXPECT_EQ(irow, std::vector<std::int64_t>(4, -2));
}

}  // namespace
