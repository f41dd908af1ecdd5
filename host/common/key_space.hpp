// key_space: the concatenation of the tables; maps a key to its table and row length.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include <gapm/options.hpp>
#include <gapm/types.hpp>

namespace gapm::detail {

class key_space {
 public:
  explicit key_space(const std::vector<table_spec>& tables);

  [[nodiscard]] std::uint64_t num_keys() const noexcept { return num_keys_; }
  [[nodiscard]] std::size_t num_tables() const noexcept { return tables_.size(); }
  [[nodiscard]] const table_spec& table(std::size_t t) const noexcept { return tables_[t]; }
  [[nodiscard]] key_type table_begin(std::size_t t) const noexcept { return begins_[t]; }

  /// The table holding `key`; precondition: key < num_keys().
  [[nodiscard]] std::size_t table_of(key_type key) const noexcept;
  [[nodiscard]] std::uint32_t row_length_of(key_type key) const noexcept {
    return tables_[table_of(key)].row_length;
  }

  /// Throws logic_error naming `operation`, the key and the range unless key < num_keys().
  void check_key(key_type key, std::string_view operation) const;

  /// Checks every key and returns the total number of values their rows hold.
  std::uint64_t check_keys(const key_type* keys, std::size_t n, std::string_view operation) const;

 private:
  std::vector<table_spec> tables_;
  std::vector<key_type> begins_;  // begins_[t] = first key of table t; one entry past the end
  std::uint64_t num_keys_ = 0;
};

}  // namespace gapm::detail
