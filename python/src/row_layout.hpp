// row_layout: how many values the rows of given keys take, from the node's tables. The
// binding needs it before calling gapm, to allocate and check the value tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <gapm/options.hpp>
#include <gapm/types.hpp>

namespace gapm::python {

class row_layout {
 public:
  explicit row_layout(const std::vector<table_spec>& tables);

  /// The rows of n keys: their value count, and their common row length (0 when they differ).
  struct extent {
    std::size_t values = 0;
    std::uint32_t uniform_length = 0;
  };

  /// Checks that every key (read as a signed int64, as torch holds it) is in [0, num_keys)
  /// and measures the keys' rows. Throws logic_error naming the key and its position.
  [[nodiscard]] extent rows_of(const std::int64_t* keys, std::size_t n, const char* operation) const;

  /// The row length of every table when they all agree, else 0.
  [[nodiscard]] std::uint32_t uniform_length() const noexcept { return uniform_length_; }
  [[nodiscard]] std::uint32_t max_length() const noexcept { return max_length_; }
  [[nodiscard]] std::uint64_t num_keys() const noexcept { return ends_.empty() ? 0 : ends_.back(); }
  /// The row length of one key; throws logic_error when it is out of range.
  [[nodiscard]] std::uint32_t row_length(std::int64_t key, const char* operation) const;

 private:
  std::vector<std::uint64_t> ends_;      // ends_[t]: one past table t's last key
  std::vector<std::uint32_t> lengths_;   // row length of table t
  std::uint32_t uniform_length_ = 0;
  std::uint32_t max_length_ = 0;
};

}  // namespace gapm::python
