// Unit tests of the MF sample's pure parts: the MatrixMarket reader and writer, the
// generator, the key layout, the data split, the DSGD block schedule and the update.
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
#include "mf_layout.hpp"
#include "mf_model.hpp"
#include "mf_options.hpp"
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
  const auto counts = mf::column_counts(mf::generate_zipf_matrix(config).train);
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

// --- layout, split, schedule ------------------------------------------------------------

TEST(Layout, KeysFollowAdaPM) {
  const auto layout = mf::key_layout::make(10, 7, 3);
  EXPECT_EQ(layout.rows_per_block, 4u);
  EXPECT_EQ(layout.cols_per_block, 3u);
  EXPECT_EQ(layout.first_col_key, 12u);  // ceil(10 / 3) * 3
  EXPECT_EQ(layout.num_keys, 10u + 7u + 50000u);
  EXPECT_EQ(layout.row_key(9), 9u);
  EXPECT_EQ(layout.col_key(0), 12u);
  EXPECT_EQ(layout.col_key(6), 18u);
  EXPECT_EQ(layout.first_row(2), 8u);
  EXPECT_EQ(layout.sum_key(0), layout.num_keys - 1);
  EXPECT_EQ(mf::key_layout::key_count(10, 7), layout.num_keys);
  EXPECT_THROW((void)mf::key_layout::make(0, 7, 3), std::invalid_argument);
}

TEST(Layout, SplitGivesEachWorkerItsRowsInColumnBlocks) {
  const mf::sparse_matrix m = random_matrix(103, 41, 3000, 9);
  const auto layout = mf::key_layout::make(m.rows, m.cols, 4);
  const auto col_nnz = mf::column_counts(m);
  std::size_t total = 0;
  for (std::uint64_t w = 0; w < 4; ++w) {
    mf::worker_data data = mf::split_for_worker(m, layout, w);
    total += data.points.size();
    ASSERT_EQ(data.block_starts.size(), 5u);
    EXPECT_EQ(data.block_starts.front(), 0u);
    EXPECT_EQ(data.block_starts.back(), data.points.size());
    std::vector<std::uint32_t> row_nnz(layout.rows_per_block, 0);
    for (std::uint64_t b = 0; b < 4; ++b) {
      auto block = data.block(b);
      EXPECT_TRUE(std::is_sorted(block.begin(), block.end(), [](const auto& x, const auto& y) { return x.row < y.row; }));
      for (const auto& e : block) {
        EXPECT_GE(e.row, w * layout.rows_per_block);
        EXPECT_LT(e.row, (w + 1) * layout.rows_per_block);
        EXPECT_GE(e.col, b * layout.cols_per_block);
        EXPECT_LT(e.col, (b + 1) * layout.cols_per_block);
        ++row_nnz[e.row - data.first_row];
      }
    }
    EXPECT_EQ(data.row_nnz, row_nnz);
  }
  EXPECT_EQ(total, m.entries.size());
  std::uint64_t counted = 0;
  for (auto c : col_nnz) counted += c;
  EXPECT_EQ(counted, m.entries.size());
}

// Every sub-epoch gives each worker a different block, and over an epoch every worker
// visits every block: a Latin square.
void expect_latin_square(const mf::block_schedule& schedule) {
  const std::uint64_t n = schedule.workers();
  for (std::uint64_t i = 0; i < n; ++i) {
    std::set<std::uint64_t> in_row, in_col;
    for (std::uint64_t j = 0; j < n; ++j) {
      in_row.insert(schedule.block(i, j));
      in_col.insert(schedule.block(j, i));
    }
    EXPECT_EQ(in_row.size(), n);
    EXPECT_EQ(in_col.size(), n);
  }
}

TEST(BlockSchedule, StartsDiagonalAndStaysConflictFree) {
  mf::block_schedule schedule(5);
  for (std::uint64_t s = 0; s < 5; ++s)
    for (std::uint64_t w = 0; w < 5; ++w) EXPECT_EQ(schedule.block(s, w), (s + w) % 5);
  mf::block_schedule other(5);
  bool changed = false;
  for (std::uint32_t epoch = 1; epoch <= 6; ++epoch) {
    const mf::block_schedule before = schedule;
    schedule.repermute(epoch);
    other.repermute(epoch);
    expect_latin_square(schedule);
    for (std::uint64_t s = 0; s < 5; ++s)
      for (std::uint64_t w = 0; w < 5; ++w) {
        EXPECT_EQ(schedule.block(s, w), other.block(s, w)) << "not deterministic";
        changed |= schedule.block(s, w) != before.block(s, w);
      }
  }
  EXPECT_TRUE(changed);
}

TEST(BlockSchedule, OneWorkerHasOneBlock) {
  mf::block_schedule schedule(1);
  schedule.repermute(3);
  EXPECT_EQ(schedule.block(0, 0), 0u);
}

// --- model ---------------------------------------------------------------------------------

TEST(Model, AdagradDeltasFollowAdaPMsOrder) {
  // rank 1: w = 0.5, acc_w = 0.25, h = 2, acc_h = 1, x = 3.
  const double rows[4] = {0.5, 0.25, 2.0, 1.0};
  double deltas[4];
  const mf::update_config config{0.1, 0.05, 1e-6};
  mf::adagrad_deltas(rows, deltas, 1, 3.0, 4.0, 10.0, config);
  const double error_term = -2.0 * (3.0 - 1.0);
  const double gw = error_term * 2.0 + 2 * 0.05 * 0.5 / 4.0;
  const double gh = error_term * 0.5 + 2 * 0.05 * 2.0 / 10.0;
  EXPECT_DOUBLE_EQ(deltas[1], gw * gw);
  EXPECT_DOUBLE_EQ(deltas[3], gh * gh);
  EXPECT_DOUBLE_EQ(deltas[0], -0.1 * gw / std::sqrt(0.25 + gw * gw + 1e-6));
  EXPECT_DOUBLE_EQ(deltas[2], -0.1 * gh / std::sqrt(1.0 + gh * gh + 1e-6));
}

TEST(Model, StepsReduceTheError) {
  const std::uint32_t rank = 4;
  std::vector<double> rows = mf::initial_rows(2, rank, 1);  // [w | 0], [h | 0]
  const std::vector<mf::matrix_entry> point = {{0, 0, 1.5}};
  auto error = [&] { return mf::squared_error(point, rows.data(), 0, rows.data() + 2 * rank, rank); };
  const double before = error();
  std::vector<double> deltas(4 * rank);
  for (int step = 0; step < 50; ++step) {
    mf::adagrad_deltas(rows.data(), deltas.data(), rank, 1.5, 1, 1, {0.05, 0.0, 1e-6});
    for (std::size_t k = 0; k < rows.size(); ++k) rows[k] += deltas[k];
  }
  EXPECT_LT(error(), before / 10);
}

TEST(Model, InitialRowsAndNorms) {
  const auto rows = mf::initial_rows(1000, 10, 134827);
  EXPECT_EQ(rows, mf::initial_rows(1000, 10, 134827));
  double accumulators = 0;
  for (std::size_t k = 0; k < 1000; ++k)
    for (std::size_t z = 10; z < 20; ++z) accumulators += std::abs(rows[k * 20 + z]);
  EXPECT_EQ(accumulators, 0.0);
  // Entries have variance 1/sqrt(10): the norm of 10,000 entries is about 10,000 / sqrt(10).
  EXPECT_NEAR(mf::factor_norm2(rows.data(), 1000, 10), 10000 / std::sqrt(10.0), 200);
}

TEST(Model, BoldDriver) {
  EXPECT_DOUBLE_EQ(mf::bold_driver(0.1, 1.0, 2.0), 0.105);
  EXPECT_DOUBLE_EQ(mf::bold_driver(0.1, 2.0, 2.0), 0.05);
}

// --- options -------------------------------------------------------------------------------

TEST(Options, SkipsGapmOptionsAndNamesBadOnes) {
  const char* argv[] = {"mf", "--data", "d", "--gapm.workers", "2", "--gapm.techniques=none",
                        "--algorithm=plain", "--lookahead", "50", "--generate", "10", "20", "30", "--intent=false"};
  bool help = false;
  const mf::app_options o = mf::parse_app_options(static_cast<int>(std::size(argv)), argv, help);
  EXPECT_FALSE(help);
  EXPECT_EQ(o.data_dir, "d");
  EXPECT_EQ(o.training, mf::algorithm::plain);
  EXPECT_EQ(o.lookahead, 50u);
  EXPECT_TRUE(o.generate);
  EXPECT_EQ(o.generator.cols, 20u);
  EXPECT_FALSE(o.intent);
  const char* bad[] = {"mf", "--data", "d", "--epochz", "3"};
  EXPECT_THROW((void)mf::parse_app_options(5, bad, help), std::invalid_argument);
  const char* bad_value[] = {"mf", "--data", "d", "--algorithm=sgd"};
  EXPECT_THROW((void)mf::parse_app_options(4, bad_value, help), std::invalid_argument);
}

}  // namespace
