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

/// a + b and a - b for every value type. int64 wraps around (two's complement) where plain
/// arithmetic would overflow, which C++ leaves undefined: a user's deltas may add up past the
/// range, and replicas must then still agree with their main copy bit for bit.
template <class T>
constexpr T wrapping_add(T a, T b) noexcept {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}

template <class T>
constexpr T wrapping_sub(T a, T b) noexcept {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
  } else {
    return a - b;
  }
}

}  // namespace gapm::detail
