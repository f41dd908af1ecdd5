// MatrixMarket coordinate files: the input format of the MF sample (train.mmc, test.mmc).
//
// A file is `%` comment lines (the first may be the `%%MatrixMarket matrix coordinate real
// general` banner), a size line `ROWS COLS NNZ`, then NNZ lines `i j value` with 1-based
// indices. In memory the indices are 0-based.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mf {

/// One revealed cell of the matrix (0-based indices).
struct matrix_entry {
  std::uint32_t row = 0;
  std::uint32_t col = 0;
  double value = 0;
  friend bool operator==(const matrix_entry&, const matrix_entry&) = default;
};

/// A sparse matrix in coordinate form: its shape and its revealed cells, in file order.
struct sparse_matrix {
  std::uint64_t rows = 0;
  std::uint64_t cols = 0;
  std::vector<matrix_entry> entries;
};

/// Parses the text of a MatrixMarket coordinate file. `name` only labels error messages.
/// Throws std::runtime_error naming the file and line for a malformed size line or entry, an
/// index out of range, a count that differs from NNZ, or a banner that is not
/// "coordinate real|integer general" (symmetric and pattern matrices are not supported).
sparse_matrix parse_matrix_market(std::string_view text, const std::string& name);

/// Reads and parses `path` (the whole file in one read; parsing with std::from_chars).
/// Throws std::runtime_error when the file cannot be read or is malformed.
sparse_matrix read_matrix_market(const std::string& path);

/// Reads only the size line of `path`: {rows, cols, nnz}. Throws like read_matrix_market.
struct matrix_shape {
  std::uint64_t rows = 0;
  std::uint64_t cols = 0;
  std::uint64_t nnz = 0;
};
matrix_shape read_matrix_market_shape(const std::string& path);

/// The text of `m` as a MatrixMarket coordinate file. Values are written in the shortest form
/// that reads back to the same double, so parse(format(m)) == m.
std::string format_matrix_market(const sparse_matrix& m);

/// Writes format_matrix_market(m) to `path`; throws std::runtime_error on I/O failure.
void write_matrix_market(const std::string& path, const sparse_matrix& m);

}  // namespace mf
