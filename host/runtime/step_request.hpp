// step_request: the wire form of a fused optimizer step for keys held elsewhere: the step,
// then keys[count], their gradients (the parameter part of each row) and, when forwarded,
// one routing hint per key. Shared by the sender (worker_ops) and the owner (request_server).
#pragma once

#include <array>
#include <cmath>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <gapm/optimizer.hpp>
#include <gapm/types.hpp>

#include "comm/wire.hpp"
#include "host/common/expects.hpp"
#include "host/common/key_space.hpp"

namespace gapm::detail {

/// Why `step` cannot update rows of `row_length` values of type T, or "" when it can.
template <class T>
[[nodiscard]] std::string step_problem(const optimizer_step& step, std::uint32_t row_length) {
  if (step.kind != optimizer::sgd && step.kind != optimizer::adagrad && step.kind != optimizer::adam)
    return "an unknown optimizer";
  if (!std::isfinite(step.lr)) return concat("learning rate ", step.lr, " is not finite");
  if (step.kind != optimizer::sgd && !(step.eps > 0)) return concat("eps ", step.eps, " is not positive");
  if (step.kind == optimizer::adam && !(step.beta1 >= 0 && step.beta1 < 1 && step.beta2 >= 0 && step.beta2 < 1))
    return concat("betas ", step.beta1, ", ", step.beta2, " are not in [0, 1)");
  if (step.kind == optimizer::adam && step.t < 1) return concat("step number ", step.t, " is below 1");
  if (std::is_integral_v<T> && step.kind != optimizer::sgd) return "adagrad and adam need float or double values";
  if (row_length % step.row_factor() != 0)
    return concat("rows of ", row_length, " values do not split into ", step.row_factor(),
                  " parts (parameters and optimizer state)");
  return "";
}

/// Gradient values of keys[0..n): the parameter part of each row.
inline std::uint64_t gradient_values(const key_space& keys, const key_type* k, std::size_t n, std::uint32_t factor) {
  std::uint64_t values = 0;
  for (std::size_t i = 0; i < n; ++i) values += keys.row_length_of(k[i]) / factor;
  return values;
}

template <class T>
[[nodiscard]] std::vector<std::byte> encode_step(wire::header head, const optimizer_step& step,
                                                 std::span<const key_type> keys, std::span<const T> grads,
                                                 std::span<const std::int64_t> hints = {}) {
  head.kind = static_cast<std::uint8_t>(wire::kind::step_request);
  head.count = keys.size();
  const std::array<optimizer_step, 1> params{step};
  if (hints.empty()) return wire::encode(head, params, keys, grads);
  head.flags = static_cast<std::uint8_t>(head.flags | wire::has_hints);
  return wire::encode(head, params, keys, grads, hints);
}

}  // namespace gapm::detail
