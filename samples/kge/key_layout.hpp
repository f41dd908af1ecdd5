// How the KGE sample lays its parameters out in gapm's key space: one table of entity rows,
// one of relation rows, and a few small counter rows that all workers add their sums to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <gapm/gapm.hpp>

#include "complex_model.hpp"

namespace kge {

/// Keys [0, E) are entities, [E, E + R) relations, then one counter row per epoch and one per
/// evaluated split.
struct key_layout {
  std::uint64_t entities = 0;
  std::uint64_t relations = 0;
  std::uint64_t epochs = 0;
  row_shape shape;

  static constexpr std::uint32_t counter_length = 8;  ///< floats in a counter row
  static constexpr std::uint64_t test_counter = 0;    ///< evaluation counters after the epochs'
  static constexpr std::uint64_t valid_counter = 1;

  [[nodiscard]] gapm::key_type entity(std::uint32_t e) const noexcept { return e; }
  [[nodiscard]] gapm::key_type relation(std::uint32_t r) const noexcept { return entities + r; }
  [[nodiscard]] gapm::key_type epoch_counter(int epoch) const noexcept {
    return entities + relations + static_cast<std::uint64_t>(epoch);
  }
  [[nodiscard]] gapm::key_type eval_counter(std::uint64_t split) const noexcept {
    return entities + relations + epochs + split;
  }
  [[nodiscard]] std::uint64_t model_keys() const noexcept { return entities + relations; }

  /// The tables for gapm::Options::tables.
  [[nodiscard]] std::vector<gapm::table_spec> tables() const {
    const auto row = static_cast<std::uint32_t>(shape.row());
    return {{entities, row}, {relations, row}, {epochs + 2, counter_length}};
  }
};

}  // namespace kge
