// Liveness apart from the data path (comm/liveness.hpp), with real processes: a node paused
// again and again for 2-4 s (SIGSTOP/SIGCONT) under load is not declared dead with the default
// peer_timeout_s of 5 s, and the job ends exact; the paused node does not declare the others
// dead either when it wakes up. (A really dead peer: MultiNode.DefaultPeerTimeoutDetects...)
#include <signal.h>

#include <chrono>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "scenario_results.hpp"

namespace {

using gapm::testing::expect_all_pass;
using gapm::testing::run_cluster;

const std::string scenarios = GAPM_SCENARIOS_BINARY;

TEST(Liveness, NodesPausedForSecondsUnderLoadAreNotPresumedDeadAndTheJobEndsExact) {
  const auto seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  auto pause_nodes = [seed](const std::vector<pid_t>& pids) {
    std::mt19937 rng(seed);
    std::this_thread::sleep_for(std::chrono::seconds(2));  // joined and busy
    for (int pause = 0; pause < 3; ++pause) {
      const pid_t victim = pids[1 + rng() % (pids.size() - 1)];
      const auto length = std::chrono::milliseconds(2000 + rng() % 2000);
      std::cout << "pausing pid " << victim << " for " << length.count() << " ms\n";
      ::kill(victim, SIGSTOP);
      std::this_thread::sleep_for(length);
      ::kill(victim, SIGCONT);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  };
  auto results = run_cluster(scenarios, {"steady"}, 3, {"SCENARIO_SECONDS=16"}, std::chrono::seconds{90}, pause_nodes);
  expect_all_pass(results, "steady");
}

}  // namespace
