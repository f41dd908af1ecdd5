// Multi-node behaviour with real processes on loopback: every node is a separate process
// of tests/multi_node_scenarios, started by the test with the rendezvous environment.
#include <chrono>
#include <cstdlib>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "scenario_results.hpp"

namespace {

using gapm::testing::describe;
using gapm::testing::expect_all_pass;
using gapm::testing::process_result;
using gapm::testing::run_cluster;
using gapm::testing::run_processes;

const std::string scenarios = GAPM_SCENARIOS_BINARY;

TEST(MultiNode, EveryNodeReadsExactlyTheSumOfAllPushes) {
  for (int nodes : {2, 3, 4}) expect_all_pass(run_cluster(scenarios, {"sum"}, nodes), "sum");
}

// Random pulls, pushes, sets and intents (seeded, seed printed); after the quiescence recipe
// every node reads exactly the expected value of every key, under every technique.
// TEST_SCENARIO_OPS (100,000) sets the operations per node; the sanitizer run takes fewer.
class RandomInterleavings : public ::testing::TestWithParam<std::string> {};

TEST_P(RandomInterleavings, ConserveEveryKeyExactly) {
  const auto seed = std::random_device{}();
  std::cout << "seed " << seed << " options " << GetParam() << "\n";
  const char* ops = std::getenv("TEST_SCENARIO_OPS");
  std::vector<std::string> env{"SCENARIO_SEED=" + std::to_string(seed),
                               std::string("SCENARIO_OPS=") + (ops != nullptr ? ops : "100000")};
  std::string options = GetParam();
  for (std::size_t at = 0; at < options.size();) {
    auto end = options.find(' ', at);
    if (end == std::string::npos) end = options.size();
    env.push_back(options.substr(at, end - at));
    at = end + 1;
  }
  expect_all_pass(run_cluster(scenarios, {"random"}, 3, env), "random");
}

INSTANTIATE_TEST_SUITE_P(Techniques, RandomInterleavings,
                         ::testing::Values("GAPM_TECHNIQUES=all", "GAPM_TECHNIQUES=replication_only",
                                           "GAPM_TECHNIQUES=relocation_only", "GAPM_TECHNIQUES=none",
                                           "GAPM_TECHNIQUES=all GAPM_LOCATION_CACHES=false",
                                           "GAPM_TECHNIQUES=all GAPM_TIME_INTENT_ACTIONS=false",
                                           // a slot pool that fills up: replicas are refused and
                                           // accesses stay remote (SPEC behaviour 9), exactly
                                           "GAPM_TECHNIQUES=all GAPM_CAPACITY=175",
                                           // per-key state only where needed, as in jobs too
                                           // large for the dense arrays (host/adaptive/key_states)
                                           "GAPM_TECHNIQUES=all GAPM_STATE_DENSE_MB=0",
                                           "GAPM_TECHNIQUES=relocation_only GAPM_STATE_DENSE_MB=0"));

TEST(MultiNode, TheReferenceLocalityScenario) {
  auto results = run_cluster(scenarios, {"locality"}, 3);
  expect_all_pass(results, "locality");
  int holders = 0;  // after the intents ended, key 3 has one copy: its main copy
  for (const auto& r : results) holders += r.output.find("key 3 local: 1") != std::string::npos;
  EXPECT_EQ(holders, 1) << describe(results);
}

// The default, sync.channels=0 (auto), resolved at the rendezvous: intents must still be acted
// on (a node left without channels would serve every access remotely and fail the scenario).
TEST(MultiNode, TheReferenceLocalityScenarioWithAutoSyncChannels) {
  expect_all_pass(run_cluster(scenarios, {"locality"}, 3, {"GAPM_SYNC_CHANNELS=0"}), "locality");
}

TEST(MultiNode, AHotKeyUnderIntentChurnLosesNoUpdate) {
  // 3 nodes x 2 workers, 100,000 iterations each: intent (p = 1/50), push, pull, advance.
  const char* ops = std::getenv("TEST_SCENARIO_OPS");  // fewer under sanitizers and emulation
  expect_all_pass(run_cluster(scenarios, {"hot"}, 3, {std::string("SCENARIO_ITERATIONS=") + (ops ? ops : "100000")}),
                  "hot");
}

// Each sampling scheme with a deterministic sampler: exact values, the keys each scheme must
// give (naive/preloc: the sequence; pool: drawn from pools, one pool per size x reuse draws;
// local: only local keys, in the sequence's order).
class Sampling : public ::testing::TestWithParam<std::string> {};

TEST_P(Sampling, SchemesDrawWhatTheyPromise) {
  std::vector<std::string> env{"GAPM_SAMPLING_SCHEME=" + GetParam(), "GAPM_SAMPLING_REUSE=3"};
  if (GetParam() == "local") env.push_back("GAPM_SAMPLING_BATCH_SIZE=1");
  expect_all_pass(run_cluster(scenarios, {"sampling"}, 3, env), "sampling");
}

INSTANTIATE_TEST_SUITE_P(Schemes, Sampling, ::testing::Values("naive", "preloc", "pool", "local"));

TEST(MultiNode, SetOverwritesWithAndWithoutReplicas) {
  expect_all_pass(run_cluster(scenarios, {"set"}, 4), "set");
}

TEST(MultiNode, ReplicaDeltasTooSmallForANormOrNanAreNeverLost) {
  expect_all_pass(run_cluster(scenarios, {"tiny_deltas"}, 2), "tiny_deltas");
}

TEST(MultiNode, DeltasBelowTheSyncThresholdAddUpInTheReplicaUntilTheyTravel) {
  expect_all_pass(run_cluster(scenarios, {"held_deltas"}, 2), "held_deltas");
}

TEST(MultiNode, UpToDateReplicasCostTheirOwnerNoAnswerBytes) {
  expect_all_pass(run_cluster(scenarios, {"quiet_replicas"}, 2), "quiet_replicas");
}

TEST(MultiNode, ExpiredIntentsFreeTheirMemoryWhateverTheKeysRole) {
  expect_all_pass(run_cluster(scenarios, {"intent_memory"}, 2), "intent_memory");
}

TEST(MultiNode, AWorkerThatGoesLeavesNoIntentToTheNextWorkerOfItsId) {
  expect_all_pass(run_cluster(scenarios, {"reused_worker_id"}, 2), "reused_worker_id");
}

class ReadYourWrites : public ::testing::TestWithParam<std::string> {};

TEST_P(ReadYourWrites, AfterWaitSyncAWorkerReadsAllItsOwnWrites) {
  expect_all_pass(run_cluster(scenarios, {"read_your_writes"}, 3, {"GAPM_TECHNIQUES=" + GetParam()}), "read_your_writes");
}

INSTANTIATE_TEST_SUITE_P(Techniques, ReadYourWrites, ::testing::Values("all", "replication_only", "relocation_only"));

class OptimizerSteps : public ::testing::TestWithParam<std::string> {};

TEST_P(OptimizerSteps, EveryStepLandsExactlyOnceWhereverTheKeyIs) {
  expect_all_pass(run_cluster(scenarios, {"optimizer_steps"}, 3, {"GAPM_TECHNIQUES=" + GetParam()}), "optimizer_steps");
}

INSTANTIATE_TEST_SUITE_P(Techniques, OptimizerSteps, ::testing::Values("all", "none", "relocation_only"));

TEST(MultiNode, MismatchedOptionsFailEveryNodeNamingTheDifference) {
  auto results = run_cluster(scenarios, {"mismatch"}, 3, {"GAPM_RENDEZVOUS_TIMEOUT_S=20"});
  for (const auto& r : results) {
    EXPECT_EQ(r.exit_code, 3) << describe(results);
    EXPECT_NE(r.output.find("option 'tables' is '100x4' on node 0 but '100x3' on node 1"), std::string::npos)
        << describe(results);
  }
}

TEST(MultiNode, AKilledPeerIsDetectedFastAndNobodyHangs) {
  auto results = run_cluster(scenarios, {"killed"}, 3, {"GAPM_PEER_TIMEOUT_S=3"}, std::chrono::seconds{60});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[2].exit_code, 128 + SIGKILL) << describe(results);
  for (int r : {0, 1}) {
    EXPECT_EQ(results[static_cast<std::size_t>(r)].exit_code, 0) << describe(results);
    EXPECT_NE(results[static_cast<std::size_t>(r)].output.find("DETECTED"), std::string::npos) << describe(results);
  }
}

TEST(MultiNode, DefaultPeerTimeoutDetectsADeadPeerWithinTenSeconds) {
  auto results = run_cluster(scenarios, {"killed"}, 2, {}, std::chrono::seconds{60});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].exit_code, 0) << describe(results);  // the scenario checks < 10.3 s itself
}

TEST(MultiNode, RendezvousTimesOutWithAClearError) {
  // Only rank 1 of two starts: nobody serves the rendezvous.
  auto alone = run_processes(scenarios, {"sum"}, 2, {1}, {"GAPM_RENDEZVOUS_TIMEOUT_S=1"}, std::chrono::seconds{30});
  EXPECT_EQ(alone[0].exit_code, 3) << alone[0].output;
  EXPECT_NE(alone[0].output.find("rendezvous with rank 0 at 127.0.0.1:"), std::string::npos) << alone[0].output;
  EXPECT_NE(alone[0].output.find("timed out after 1 s"), std::string::npos) << alone[0].output;
  EXPECT_LT(alone[0].seconds, 10);
  // Only rank 0 starts: it names the missing rank.
  auto host = run_processes(scenarios, {"sum"}, 2, {0}, {"GAPM_RENDEZVOUS_TIMEOUT_S=1"}, std::chrono::seconds{30});
  EXPECT_EQ(host[0].exit_code, 3) << host[0].output;
  EXPECT_NE(host[0].output.find("1 of 2 nodes joined; missing rank(s) 1"), std::string::npos) << host[0].output;
}

TEST(MultiNode, ShutdownInAnyOrderEndsEveryProcess) {
  auto results = run_cluster(scenarios, {"shutdown"}, 3, {"GAPM_PEER_TIMEOUT_S=3"}, std::chrono::seconds{60});
  for (const auto& r : results) EXPECT_EQ(r.exit_code, 0) << describe(results);
}

}  // namespace
