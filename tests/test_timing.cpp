// Just-in-time action timing (SPEC behaviour 4) with real processes. These tests measure how
// early keys arrive, so ctest runs them alone (RUN_SERIAL): a machine busy with other tests
// delays sync rounds in a way no window estimate can foresee.
#include <string>

#include <gtest/gtest.h>

#include "process_cluster.hpp"

namespace {

using gapm::testing::process_result;
using gapm::testing::run_cluster;

const std::string scenarios = GAPM_SCENARIOS_BINARY;

// The number after `label` in a process's output.
double number_after(const std::string& output, const std::string& label) {
  const auto at = output.find(label);
  return at == std::string::npos ? -1 : std::stod(output.substr(at + label.size()));
}

TEST(Timing, IntentsSignalledAheadMakeAccessesLocal) {
  // Each node announces the keys of clock c + 400 at clock c and pulls at the intent's start.
  // One sync channel per node: three nodes share this machine's cores with their threads.
  auto results = run_cluster(scenarios, {"timing"}, 3, {"GAPM_TIME_INTENT_ACTIONS=true", "GAPM_SYNC_CHANNELS=1"});
  for (const auto& r : results) {
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const double local = number_after(r.output, "local pulls at intent start: ");
    const double total = number_after(r.output, std::to_string(static_cast<long>(local)) + " of ");
    ASSERT_GT(total, 0) << r.output;
    EXPECT_GE(local / total, 0.999) << r.output;
  }
}

TEST(Timing, JustInTimeReplicasLiveShorterThanEagerOnes) {
  // Shared keys (replicated): the replicas' memory x time, timing on vs eager.
  auto replica_rounds = [](const std::string& timing) {
    auto results = run_cluster(scenarios, {"timing"}, 3,
                               {"GAPM_TIME_INTENT_ACTIONS=" + timing, "SCENARIO_SHARED=1", "SCENARIO_CLOCKS=2000",
                                "GAPM_SYNC_CHANNELS=1"});
    double sum = 0;
    for (const auto& r : results) {
      EXPECT_EQ(r.exit_code, 0) << r.output;
      sum += number_after(r.output, "replica rounds: ");
    }
    return sum;
  };
  const double timed = replica_rounds("true");
  const double eager = replica_rounds("false");
  std::cout << "replica rounds: timed " << timed << ", eager " << eager << "\n";
  EXPECT_GT(timed, 0);
  EXPECT_LT(timed, eager / 2);  // 400 clocks ahead vs a window of a few rounds
}

}  // namespace
