// Key layout, data split and DSGD block schedule of the MF sample.
#include "mf_layout.hpp"

#include <algorithm>
#include <random>
#include <stdexcept>

namespace mf {
namespace {

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

bool column_major(const matrix_entry& a, const matrix_entry& b) {
  return a.col != b.col ? a.col < b.col : a.row < b.row;
}
bool row_major(const matrix_entry& a, const matrix_entry& b) {
  return a.row != b.row ? a.row < b.row : a.col < b.col;
}

}  // namespace

key_layout key_layout::make(std::uint64_t rows, std::uint64_t cols, std::uint64_t workers) {
  if (rows == 0 || cols == 0) throw std::invalid_argument("key_layout: the matrix is empty");
  if (workers == 0) throw std::invalid_argument("key_layout: no workers");
  key_layout layout;
  layout.rows = rows;
  layout.cols = cols;
  layout.workers = workers;
  layout.rows_per_block = ceil_div(rows, workers);
  layout.cols_per_block = ceil_div(cols, workers);
  layout.first_col_key = layout.rows_per_block * workers;
  layout.num_keys = key_count(rows, cols);
  // The last column block names keys up to first_col_key + W * cpb; they must stay clear of
  // the sum keys at the top (W is tiny against the 50000 spare keys in practice).
  if (layout.first_col_key + workers * layout.cols_per_block + 16 > layout.num_keys)
    throw std::invalid_argument("key_layout: too many workers for the spare keys");
  return layout;
}

worker_data split_for_worker(const sparse_matrix& m, const key_layout& layout, std::uint64_t worker) {
  worker_data data;
  data.first_row = layout.first_row(worker);
  const std::uint64_t end_row = data.first_row + layout.rows_per_block;
  data.row_nnz.assign(layout.rows_per_block, 0);
  for (const matrix_entry& e : m.entries)
    if (e.row >= data.first_row && e.row < end_row) {
      data.points.push_back(e);
      ++data.row_nnz[e.row - data.first_row];
    }
  std::sort(data.points.begin(), data.points.end(), column_major);
  data.block_starts.assign(layout.workers + 1, data.points.size());
  data.block_starts[0] = 0;
  for (std::uint64_t b = 1; b < layout.workers; ++b) {
    const std::uint64_t first_col = b * layout.cols_per_block;
    auto at = std::lower_bound(data.points.begin(), data.points.end(), first_col,
                               [](const matrix_entry& e, std::uint64_t col) { return e.col < col; });
    data.block_starts[b] = static_cast<std::size_t>(at - data.points.begin());
  }
  for (std::uint64_t b = 0; b < layout.workers; ++b) {
    auto points = data.block(b);
    std::sort(points.begin(), points.end(), row_major);
  }
  return data;
}

std::vector<std::uint32_t> column_counts(const sparse_matrix& m) {
  std::vector<std::uint32_t> counts(m.cols, 0);
  for (const matrix_entry& e : m.entries) ++counts[e.col];
  return counts;
}

block_schedule::block_schedule(std::uint64_t workers) : workers_{workers}, table_(workers * workers) {
  if (workers == 0) throw std::invalid_argument("block_schedule: no workers");
  for (std::uint64_t s = 0; s < workers; ++s)
    for (std::uint64_t w = 0; w < workers; ++w) table_[s * workers + w] = (s + w) % workers;
}

void block_schedule::repermute(std::uint32_t epoch) {
  // One permutation p, shuffled twice: first the columns move (new[s][w] = old[s][p[w]]),
  // then, with p shuffled further, the rows (new[p[s]][w] = old[s][w]).
  std::mt19937 engine(epoch);
  std::vector<int> p(workers_);
  for (std::uint64_t k = 0; k < workers_; ++k) p[k] = static_cast<int>(k);
  std::vector<std::uint64_t> moved(table_.size());

  std::shuffle(p.begin(), p.end(), engine);
  for (std::uint64_t s = 0; s < workers_; ++s)
    for (std::uint64_t w = 0; w < workers_; ++w)
      moved[s * workers_ + w] = table_[s * workers_ + static_cast<std::uint64_t>(p[w])];
  table_.swap(moved);

  std::shuffle(p.begin(), p.end(), engine);
  for (std::uint64_t s = 0; s < workers_; ++s)
    for (std::uint64_t w = 0; w < workers_; ++w)
      moved[static_cast<std::uint64_t>(p[s]) * workers_ + w] = table_[s * workers_ + w];
  table_.swap(moved);
}

}  // namespace mf
