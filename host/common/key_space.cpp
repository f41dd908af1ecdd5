#include "host/common/key_space.hpp"

#include <algorithm>

#include "host/common/expects.hpp"

namespace gapm::detail {

key_space::key_space(const std::vector<table_spec>& tables) : tables_{tables} {
  begins_.reserve(tables.size() + 1);
  for (const auto& t : tables) {
    begins_.push_back(num_keys_);
    num_keys_ += t.num_keys;
  }
  begins_.push_back(num_keys_);
}

std::size_t key_space::table_of(key_type key) const noexcept {
  if (tables_.size() == 1) return 0;  // the common case: one table, no search
  auto after = std::upper_bound(begins_.begin(), begins_.end() - 1, key);
  return static_cast<std::size_t>(after - begins_.begin()) - 1;
}

void key_space::check_key(key_type key, std::string_view operation) const {
  GAPM_EXPECTS(key < num_keys_, operation, ": key ", key, " is out of range [0, ", num_keys_, ")");
}

std::uint64_t key_space::check_keys(const key_type* keys, std::size_t n,
                                    std::string_view operation) const {
  std::uint64_t values = 0;
  for (std::size_t i = 0; i < n; ++i) {
    check_key(keys[i], operation);
    values += row_length_of(keys[i]);
  }
  return values;
}

}  // namespace gapm::detail
