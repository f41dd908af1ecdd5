// GAPM_EXPECTS: the one way API misuse is reported (a gapm::logic_error a user can act on).
#pragma once

#include <sstream>
#include <string>
#include <utility>

#include <gapm/errors.hpp>

namespace gapm::detail {

/// Concatenates the arguments with operator<< into one message.
template <class... Parts>
[[nodiscard]] std::string concat(Parts&&... parts) {
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  return os.str();
}

}  // namespace gapm::detail

/// Throws gapm::logic_error("gapm: " + message parts) unless `cond` holds.
#define GAPM_EXPECTS(cond, ...)                                                   \
  do {                                                                            \
    if (!(cond)) [[unlikely]]                                                     \
      throw ::gapm::logic_error(::gapm::detail::concat("gapm: ", __VA_ARGS__));   \
  } while (false)
