// row_layout: key ranges and row lengths from the tables (the binding sizes tensors with it).
#include "row_layout.hpp"

#include <algorithm>
#include <string>

#include <gapm/errors.hpp>

namespace gapm::python {

row_layout::row_layout(const std::vector<table_spec>& tables) {
  std::uint64_t end = 0;
  for (const auto& t : tables) {
    end += t.num_keys;
    ends_.push_back(end);
    lengths_.push_back(t.row_length);
    max_length_ = std::max(max_length_, t.row_length);
  }
  const bool uniform =
      !lengths_.empty() && std::all_of(lengths_.begin(), lengths_.end(), [&](auto l) { return l == lengths_[0]; });
  uniform_length_ = uniform ? lengths_[0] : 0;
}

std::uint32_t row_layout::row_length(std::int64_t key, const char* operation) const {
  if (key < 0 || static_cast<std::uint64_t>(key) >= num_keys())
    throw logic_error(std::string("gapm: ") + operation + ": key " + std::to_string(key) + " is out of range [0, " +
                      std::to_string(num_keys()) + ")");
  if (uniform_length_ != 0) return uniform_length_;
  const auto table = std::upper_bound(ends_.begin(), ends_.end(), static_cast<std::uint64_t>(key)) - ends_.begin();
  return lengths_[static_cast<std::size_t>(table)];
}

row_layout::extent row_layout::rows_of(const std::int64_t* keys, std::size_t n, const char* operation) const {
  extent e{.values = 0, .uniform_length = uniform_length_};
  for (std::size_t i = 0; i < n; ++i) {
    if (keys[i] < 0 || static_cast<std::uint64_t>(keys[i]) >= num_keys())
      throw logic_error(std::string("gapm: ") + operation + ": key " + std::to_string(keys[i]) + " (position " +
                        std::to_string(i) + ") is out of range [0, " + std::to_string(num_keys()) + ")");
    if (uniform_length_ != 0) continue;
    const std::uint32_t length = row_length(keys[i], operation);
    e.values += length;
    if (i == 0) e.uniform_length = length;
    else if (e.uniform_length != length) e.uniform_length = 0;
  }
  if (uniform_length_ != 0) e.values = n * uniform_length_;
  return e;
}

}  // namespace gapm::python
