// Unit tests of the MF sample's pure parts: the MatrixMarket reader and writer and the
// generator.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

#include "matrix_market.hpp"
#include "zipf_generator.hpp"

namespace {

mf::sparse_matrix random_matrix(std::uint64_t rows, std::uint64_t cols, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_int_distribution<std::uint32_t> row(0, static_cast<std::uint32_t>(rows - 1));
  std::uniform_int_distribution<std::uint32_t> col(0, static_cast<std::uint32_t>(cols - 1));
  std::normal_distribution<double> value(0.0, 3.0);
  mf::sparse_matrix m{rows, cols, {}};
  for (std::size_t k = 0; k < n; ++k) m.entries.push_back({row(engine), col(engine), value(engine)});
  return m;
}

// --- MatrixMarket ------------------------------------------------------------------------

TEST(MatrixMarket, RoundTripIsExact) {
  const std::uint64_t seed = 20261125;
  SCOPED_TRACE("seed " + std::to_string(seed));
  mf::sparse_matrix m = random_matrix(1000, 300, 5000, seed);
  m.entries.push_back({999, 299, -0.0});
  m.entries.push_back({0, 0, 1e-300});
  m.entries.push_back({5, 7, 12345.0});
  const mf::sparse_matrix back = mf::parse_matrix_market(mf::format_matrix_market(m), "memory");
  EXPECT_EQ(back.rows, m.rows);
  EXPECT_EQ(back.cols, m.cols);
  EXPECT_EQ(back.entries, m.entries);
}

TEST(MatrixMarket, RoundTripThroughAFile) {
  const mf::sparse_matrix m = random_matrix(50, 40, 200, 3);
  const auto path = (std::filesystem::temp_directory_path() / ("mf_rt_" + std::to_string(::getpid()) + ".mmc")).string();
  mf::write_matrix_market(path, m);
  const mf::sparse_matrix back = mf::read_matrix_market(path);
  const mf::matrix_shape shape = mf::read_matrix_market_shape(path);
  std::filesystem::remove(path);
  EXPECT_EQ(back.entries, m.entries);
  EXPECT_EQ(shape.rows, 50u);
  EXPECT_EQ(shape.cols, 40u);
  EXPECT_EQ(shape.nnz, 200u);
}

TEST(MatrixMarket, ReadsCommentsBlankLinesCrlfAndIntegers) {
  const std::string text =
      "%%MatrixMarket matrix coordinate real general\r\n"
      "% a comment\r\n"
      "%\r\n"
      "3 4 3\r\n"
      "1 1 2.5\r\n"
      "\r\n"
      "3\t4   -7\r\n"
      "2 2 +1e-3";
  const mf::sparse_matrix m = mf::parse_matrix_market(text, "t");
  EXPECT_EQ(m.rows, 3u);
  EXPECT_EQ(m.cols, 4u);
  ASSERT_EQ(m.entries.size(), 3u);
  EXPECT_EQ(m.entries[0], (mf::matrix_entry{0, 0, 2.5}));
  EXPECT_EQ(m.entries[1], (mf::matrix_entry{2, 3, -7.0}));
  EXPECT_EQ(m.entries[2], (mf::matrix_entry{1, 1, 1e-3}));
}

void expect_parse_error(const std::string& text, const std::string& fragment) {
  try {
    (void)mf::parse_matrix_market(text, "bad.mmc");
    ADD_FAILURE() << "no error for: " << text;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(MatrixMarket, RejectsMalformedInput) {
  expect_parse_error("2 2 1\n3 1 1.0\n", "bad.mmc:2: row index 3 is outside [1, 2]");
  expect_parse_error("2 2 1\n1 0 1.0\n", "column index 0");
  expect_parse_error("2 2 2\n1 1 1.0\n", "ends after 1 of 2 entries");
  expect_parse_error("2 2 1\n1 1 1.0\n2 2 2.0\n", "more entries than the 1");
  expect_parse_error("2 2 1\n1 1 x\n", "expected a value");
  expect_parse_error("2 2 1\n1 1 1.0 9\n", "unexpected text '9'");
  expect_parse_error("%%MatrixMarket matrix coordinate real symmetric\n2 2 0\n", "bad.mmc:1: unsupported banner");
  expect_parse_error("% only comments\n", "no size line");
}

// --- generator -----------------------------------------------------------------------------

TEST(Zipf, ProbabilitiesFollowThePowerLaw) {
  const mf::zipf_distribution zipf(1000, 1.1);
  double total = 0;
  for (std::uint64_t k = 0; k < 1000; ++k) total += zipf.probability(k);
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_NEAR(zipf.probability(0) / zipf.probability(1), std::pow(2.0, 1.1), 1e-9);
  // Empirical frequency of the top value within 5 standard deviations.
  std::mt19937_64 engine(11);
  const int draws = 200000;
  int top = 0;
  for (int d = 0; d < draws; ++d) top += zipf(engine) == 0;
  const double p = zipf.probability(0);
  EXPECT_NEAR(top / static_cast<double>(draws), p, 5 * std::sqrt(p * (1 - p) / draws));
}

TEST(Generator, IsDeterministicWithoutRepeatedCells) {
  mf::generator_config config;
  config.rows = 300;
  config.cols = 100;
  config.train_points = 4000;
  config.test_fraction = 0.25;
  config.seed = 5;
  const mf::generated_data a = mf::generate_zipf_matrix(config);
  const mf::generated_data b = mf::generate_zipf_matrix(config);
  EXPECT_EQ(a.train.entries, b.train.entries);
  EXPECT_EQ(a.test.entries, b.test.entries);
  ASSERT_EQ(a.train.entries.size(), 4000u);
  ASSERT_EQ(a.test.entries.size(), 1000u);
  std::set<std::pair<std::uint32_t, std::uint32_t>> cells;
  for (const auto* part : {&a.train, &a.test})
    for (const auto& e : part->entries) {
      EXPECT_LT(e.row, 300u);
      EXPECT_LT(e.col, 100u);
      EXPECT_TRUE(cells.insert({e.row, e.col}).second) << "cell (" << e.row << ", " << e.col << ") twice";
    }
  config.seed = 6;
  EXPECT_NE(mf::generate_zipf_matrix(config).train.entries, a.train.entries);
}

TEST(Generator, ColumnsAreSkewed) {
  mf::generator_config config;
  config.rows = 100000;
  config.cols = 1000;
  config.train_points = 50000;
  config.zipf = 1.1;
  std::vector<std::uint32_t> counts(config.cols, 0);
  for (const auto& e : mf::generate_zipf_matrix(config).train.entries) ++counts[e.col];
  const auto top = *std::max_element(counts.begin(), counts.end());
  // The most popular column gets about 50000 * p(0) cells; a uniform column would get 50.
  const double expected = 50000 * mf::zipf_distribution(1000, 1.1).probability(0);
  EXPECT_NEAR(top, expected, 0.1 * expected);
}

TEST(Generator, RejectsImpossibleDensity) {
  mf::generator_config config;
  config.rows = 10;
  config.cols = 10;
  config.train_points = 60;
  EXPECT_THROW((void)mf::generate_zipf_matrix(config), std::invalid_argument);
}

}  // namespace
