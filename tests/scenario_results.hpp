// scenario_results: checks on the processes of a scenario run (tests/scenarios/), with every
// node's output in the failure message.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "process_cluster.hpp"

namespace gapm::testing {

/// Every rank's exit code and output, for failure messages.
inline std::string describe(const std::vector<process_result>& results) {
  std::string text;
  for (std::size_t r = 0; r < results.size(); ++r)
    text += "--- rank " + std::to_string(r) + " exit " + std::to_string(results[r].exit_code) + "\n" + results[r].output;
  return text;
}

/// EXPECTs that every process exited 0 and printed "PASS <scenario>".
inline void expect_all_pass(const std::vector<process_result>& results, const std::string& scenario) {
  for (const auto& r : results) {
    EXPECT_EQ(r.exit_code, 0) << describe(results);
    EXPECT_NE(r.output.find("PASS " + scenario), std::string::npos) << describe(results);
  }
}

}  // namespace gapm::testing
