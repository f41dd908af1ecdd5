// Real processes on loopback whose rows live in the device store on the emulated device
// (cuda/emulation/): device buffers through the worker API across nodes. The rest of the
// multi-process suite runs on the emulated device too (the EmulatedDevice.* tests: the same
// test sources, built against device_scenarios-style binaries; see tests/CMakeLists.txt).
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "scenario_results.hpp"

namespace {

using gapm::testing::describe;
using gapm::testing::expect_all_pass;
using gapm::testing::run_cluster;

const std::string device_scenarios = GAPM_DEVICE_SCENARIOS_BINARY;
const std::string scenarios = GAPM_SCENARIOS_BINARY;

// What a node's summary says the data plane carried: "data plane N B sent (D B replica
// deltas), M B received".
struct plane_traffic {
  long long sent = -1, deltas = -1, received = -1;
};
plane_traffic plane_bytes(const std::string& output) {
  plane_traffic t;
  if (const auto at = output.rfind("data plane "); at != std::string::npos)
    (void)std::sscanf(output.c_str() + at, "data plane %lld B sent (%lld B replica deltas), %lld B received", &t.sent,
                      &t.deltas, &t.received);
  return t;
}

// The replica deltas a node's summary says it sent ("deltas sent N").
long long deltas_sent(const std::string& output) {
  long long sent = -1;
  if (const auto at = output.rfind("deltas sent "); at != std::string::npos)
    (void)std::sscanf(output.c_str() + at, "deltas sent %lld", &sent);
  return sent;
}

TEST(DeviceBuffers, RemotePullsLandInTheCallersStreamOrderOnTheNodesOwnDevice) {
  for (int nodes : {2, 3})
    expect_all_pass(run_cluster(device_scenarios, {"device_remote_pull"}, nodes,
                                {"EMULATED_GPU_COUNT=2", "EMULATED_GPU_STRICT=1", "EMULATED_GPU_JITTER_US=100", "GAPM_STORE=cuda"}),
                    "device_remote_pull");
}

TEST(DeviceBuffers, WritesQueuedOnAUsersStreamLandExactlyOnceWhileKeysMove) {
  for (const char* techniques : {"GAPM_TECHNIQUES=all", "GAPM_TECHNIQUES=relocation_only"})
    for (int nodes : {2, 3})
      expect_all_pass(run_cluster(device_scenarios, {"device_async_writes"}, nodes,
                                  {"EMULATED_GPU_COUNT=2", "EMULATED_GPU_STRICT=1", "EMULATED_GPU_JITTER_US=100", techniques}),
                      "device_async_writes");
}

// The data plane (docs/ARCHITECTURE.md, "Data plane"): with a GPU of its own for every node,
// rows of sync and pull answers travel on the emulated NCCL pipes, and every key ends exact.
TEST(DataPlane, WithAGpuPerNodeRowsTravelOnTheNcclPlaneAndEveryKeyEndsExact) {
  for (const char* techniques : {"GAPM_TECHNIQUES=all", "GAPM_TECHNIQUES=relocation_only"}) {
    const auto results = run_cluster(scenarios, {"random"}, 3,
                                     {"GAPM_STORE=cuda", "EMULATED_GPU_COUNT=4", "EMULATED_GPU_STRICT=1", "EMULATED_GPU_JITTER_US=50",
                                      "SCENARIO_OPS=10000", techniques});
    expect_all_pass(results, "random");
    EXPECT_NE(results[0].output.find("gapm: data plane: emulated-nccl"), std::string::npos) << describe(results);
    for (const auto& r : results) {
      const auto traffic = plane_bytes(r.output);
      EXPECT_GT(traffic.sent, 0) << describe(results);
      EXPECT_GT(traffic.received, 0) << describe(results);
    }
  }
}

// Replica deltas travel on the plane too, taken on the GPU straight into the buffer they are
// sent from and merged at the owner straight from the one they arrive in
// (tests/scenarios/replica_deltas.cpp). tiny_deltas: pushes whose norm underflows or is NaN
// (which node holds the replicas depends on the order the intents arrive in); held_deltas:
// node 1's replica sends what sync.threshold held back, at least twice. Every delta a node
// sends is on the plane; over TCP none is.
TEST(DataPlane, ReplicaDeltasTravelOnThePlaneAndArriveExactly) {
  const std::pair<const char*, long long> scenarios_and_row_bytes[] = {{"tiny_deltas", 2 * sizeof(double)},
                                                                       {"held_deltas", sizeof(std::int64_t)}};
  for (const auto& [scenario, row_bytes] : scenarios_and_row_bytes) {
    const auto on_plane = run_cluster(scenarios, {scenario}, 2,
                                      {"GAPM_STORE=cuda", "EMULATED_GPU_COUNT=2", "EMULATED_GPU_STRICT=1",
                                       "EMULATED_GPU_JITTER_US=50"});
    expect_all_pass(on_plane, scenario);
    for (const auto& r : on_plane)
      EXPECT_EQ(plane_bytes(r.output).deltas, deltas_sent(r.output) * row_bytes) << describe(on_plane);
    if (std::string(scenario) == "held_deltas") {
      EXPECT_GE(deltas_sent(on_plane[1].output), 2) << describe(on_plane);
    }
  }

  const auto over_tcp = run_cluster(scenarios, {"held_deltas"}, 2, {"GAPM_STORE=cuda", "EMULATED_GPU_COUNT=1"});
  expect_all_pass(over_tcp, "held_deltas");
  EXPECT_GE(deltas_sent(over_tcp[1].output), 2) << describe(over_tcp);
  for (const auto& r : over_tcp) EXPECT_EQ(plane_bytes(r.output).deltas, 0) << describe(over_tcp);
}

// Over TCP, every row a device store copies to or from the host waits in pinned memory
// (host/store/pinned_memory.hpp): the strict emulation aborts a node whose copy touches pageable
// memory, here on a run with replicas, relocations, pulls and pushes of every kind.
TEST(DataPlane, OverTcpTheRowsADeviceCopiesWaitInPinnedHostMemory) {
  const auto results = run_cluster(scenarios, {"random"}, 3,
                                   {"GAPM_STORE=cuda", "EMULATED_GPU_COUNT=4", "EMULATED_GPU_STRICT=1",
                                    "EMULATED_GPU_JITTER_US=50", "GAPM_DATA_PLANE=tcp", "SCENARIO_OPS=10000"});
  expect_all_pass(results, "random");
  EXPECT_NE(results[0].output.find("gapm: data plane: tcp"), std::string::npos) << describe(results);
  for (const auto& r : results) EXPECT_EQ(plane_bytes(r.output).sent, 0) << describe(results);
}

TEST(DataPlane, NodesSharingAGpuFallBackToTcpAndSayWhy) {
  const auto results = run_cluster(scenarios, {"sum"}, 2, {"GAPM_STORE=cuda", "EMULATED_GPU_COUNT=1"});
  expect_all_pass(results, "sum");
  EXPECT_NE(results[0].output.find("gapm: data plane: tcp, rows in the TCP frames (nodes 0 and 1 share GPU"),
            std::string::npos)
      << describe(results);
  for (const auto& r : results) EXPECT_EQ(plane_bytes(r.output).sent, 0) << describe(results);
}

TEST(DataPlane, AskingForNcclWhereItCannotBeHadFailsEveryNodeWithTheReason) {
  const auto results =
      run_cluster(scenarios, {"sum"}, 2, {"GAPM_STORE=cpu", "EMULATED_GPU_COUNT=4", "EMULATED_GPU_STRICT=1", "GAPM_DATA_PLANE=nccl"});
  for (const auto& r : results) {
    EXPECT_NE(r.exit_code, 0) << describe(results);
    EXPECT_NE(r.output.find("option data_plane=nccl, but node 0 keeps its rows in host memory"), std::string::npos)
        << describe(results);
  }
}

}  // namespace
