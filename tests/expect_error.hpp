// expect_error: checks that a call throws a given gapm exception whose message says what a
// user needs to hear.
#pragma once

#include <string>

#include <gtest/gtest.h>

#include <gapm/errors.hpp>

namespace gapm::testing {

/// EXPECTs that fn() throws Error with `needle` in its message.
template <class Error = gapm::logic_error, class Fn>
void expect_error(Fn fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected an exception mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace gapm::testing
