// The value types a node can hold (float, double, int64), by name and by tag: what nodes
// compare at rendezvous, and what snapshot files record.
#pragma once

#include <cstdint>
#include <type_traits>

namespace gapm::detail {

template <class T>
constexpr const char* value_name() {
  if constexpr (std::is_same_v<T, float>) return "float";
  else if constexpr (std::is_same_v<T, double>) return "double";
  else return "int64";
}

template <class T>
constexpr std::uint32_t value_tag() {
  if constexpr (std::is_same_v<T, float>) return 1;
  else if constexpr (std::is_same_v<T, double>) return 2;
  else return 3;
}

}  // namespace gapm::detail
