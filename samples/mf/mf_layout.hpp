// Where the MF model lives in the key space, which data each worker trains on, and in which
// order the workers visit the column blocks: AdaPM's MF layout, as pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "matrix_market.hpp"

namespace mf {

/// The key layout of an R x C factorisation with W workers (AdaPM's):
/// row i -> key i, column j -> key first_col_key + j with first_col_key = ceil(R / W) * W,
/// num_keys = R + C + 50000, and the last keys collect sums across workers (the loss).
struct key_layout {
  std::uint64_t rows = 0;
  std::uint64_t cols = 0;
  std::uint64_t workers = 0;
  std::uint64_t rows_per_block = 0;  ///< ceil(R / W): worker w holds rows [w * rpb, (w + 1) * rpb)
  std::uint64_t cols_per_block = 0;  ///< ceil(C / W): column block b is [b * cpb, (b + 1) * cpb)
  std::uint64_t first_col_key = 0;
  std::uint64_t num_keys = 0;

  /// R + C + 50000: the size of the key space (independent of W).
  static std::uint64_t key_count(std::uint64_t rows, std::uint64_t cols) { return rows + cols + 50000; }
  /// Throws std::invalid_argument for an empty matrix or no workers.
  static key_layout make(std::uint64_t rows, std::uint64_t cols, std::uint64_t workers);

  [[nodiscard]] std::uint64_t row_key(std::uint64_t i) const { return i; }
  [[nodiscard]] std::uint64_t col_key(std::uint64_t j) const { return first_col_key + j; }
  [[nodiscard]] std::uint64_t first_row(std::uint64_t worker) const { return worker * rows_per_block; }
  /// Key k of the keys that collect sums across workers: the loss key (num_keys - 1) first,
  /// then downwards. At most the 50000 spare keys, minus the column keys past C that the
  /// last column block names.
  [[nodiscard]] std::uint64_t sum_key(std::uint64_t k) const { return num_keys - 1 - k; }
};

/// The training (or test) points of one worker: AdaPM's data split. The worker holds the
/// points of its rows; they are sorted by column, then row, cut into W column blocks, and
/// each block is sorted by row.
struct worker_data {
  std::uint64_t first_row = 0;
  std::vector<matrix_entry> points;
  std::vector<std::size_t> block_starts;  ///< (W + 1): block b is points[block_starts[b], block_starts[b + 1])
  std::vector<std::uint32_t> row_nnz;     ///< (rows_per_block): points of each local row, this worker's

  [[nodiscard]] std::span<matrix_entry> block(std::uint64_t b) {
    return {points.data() + block_starts[b], block_starts[b + 1] - block_starts[b]};
  }
  [[nodiscard]] std::uint32_t nnz_of_row(std::uint64_t i) const { return row_nnz[i - first_row]; }
};

/// Worker `worker`'s share of `m` (see worker_data).
worker_data split_for_worker(const sparse_matrix& m, const key_layout& layout, std::uint64_t worker);

/// Points per column over the whole matrix (the regularisation count of a column).
std::vector<std::uint32_t> column_counts(const sparse_matrix& m);

/// DSGD's block schedule: in sub-epoch s, worker w trains on column block block(s, w). It
/// starts as (s + w) mod W; repermute(epoch) permutes its columns, then its rows, with a
/// Mersenne Twister seeded by the epoch, on top of the previous epoch's schedule, so every
/// node computes the same schedule (AdaPM's order of operations). Each sub-epoch remains
/// conflict-free: no two workers share a block.
class block_schedule {
 public:
  explicit block_schedule(std::uint64_t workers);
  [[nodiscard]] std::uint64_t block(std::uint64_t subepoch, std::uint64_t worker) const {
    return table_[subepoch * workers_ + worker];
  }
  void repermute(std::uint32_t epoch);
  [[nodiscard]] std::uint64_t workers() const { return workers_; }

 private:
  std::uint64_t workers_;
  std::vector<std::uint64_t> table_;  // (W x W), row-major: [subepoch][worker]
};

}  // namespace mf
