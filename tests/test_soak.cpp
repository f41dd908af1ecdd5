// Soak: 4 processes of intent churn with a moving working set (tests/scenarios/soak.cpp) for
// TEST_SOAK_SECONDS (default 120): memory flat after warm-up (RSS and gapm's own counters),
// throughput flat, every key exact at the end. Each node checks its own samples; this test
// prints node 0's table for the record.
#include <cstdlib>
#include <iostream>
#include <sstream>

#include <gtest/gtest.h>

#include "scenario_results.hpp"

namespace {

TEST(Soak, FourNodesOfIntentChurnKeepMemoryAndThroughputFlatAndEndExact) {
  const char* text = std::getenv("TEST_SOAK_SECONDS");
  const int seconds = text != nullptr ? std::max(12, std::atoi(text)) : 120;
  const auto results = gapm::testing::run_cluster(GAPM_SCENARIOS_BINARY, {"soak"}, 4,
                                                  {"SOAK_SECONDS=" + std::to_string(seconds), "GAPM_PRINT_STATS=false"},
                                                  std::chrono::seconds{seconds + 120});
  gapm::testing::expect_all_pass(results, "soak");
  std::istringstream lines(results.front().output);
  for (std::string line; std::getline(lines, line);)
    if (line.starts_with("SOAK")) std::cout << line << "\n";
}

}  // namespace
