// Real processes on loopback whose rows live in the device store on the emulated device
// (cuda/emulation/): device buffers through the worker API across nodes. The rest of the
// multi-process suite runs on the emulated device too (the EmulatedDevice.* tests: the same
// test sources, built against device_scenarios-style binaries; see tests/CMakeLists.txt).
#include <string>

#include <gtest/gtest.h>

#include "scenario_results.hpp"

namespace {

using gapm::testing::expect_all_pass;
using gapm::testing::run_cluster;

const std::string device_scenarios = GAPM_DEVICE_SCENARIOS_BINARY;

TEST(DeviceBuffers, RemotePullsLandInTheCallersStreamOrderOnTheNodesOwnDevice) {
  for (int nodes : {2, 3})
    expect_all_pass(run_cluster(device_scenarios, {"device_remote_pull"}, nodes,
                                {"EMULATED_GPU_COUNT=2", "EMULATED_GPU_JITTER_US=100", "GAPM_STORE=cuda"}),
                    "device_remote_pull");
}

TEST(DeviceBuffers, WritesQueuedOnAUsersStreamLandExactlyOnceWhileKeysMove) {
  for (const char* techniques : {"GAPM_TECHNIQUES=all", "GAPM_TECHNIQUES=relocation_only"})
    for (int nodes : {2, 3})
      expect_all_pass(run_cluster(device_scenarios, {"device_async_writes"}, nodes,
                                  {"EMULATED_GPU_COUNT=2", "EMULATED_GPU_JITTER_US=100", techniques}),
                      "device_async_writes");
}

}  // namespace
