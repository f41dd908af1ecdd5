// The row plane (cuda/row_plane.hpp) and its pipe links. Built twice:
//   test_row_plane      on the emulated device and its emulated links (CPU-only CI): the
//                       plane's order, checks and abort in one process, and the conformance run
//                       (tests/plane/plane_conformance.cpp) with 2-4 processes
//   test_row_plane_gpu  (CUDA build, tests named Gpu.*) the conformance run over NCCL; it skips,
//                       saying why, unless NCCL is built in and at least 2 GPUs are visible
#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <gapm/errors.hpp>

#include "comm/job_auth.hpp"
#include "cuda/device_platform.hpp"
#include "cuda/pipe_schedule.hpp"
#include "cuda/row_plane.hpp"
#include "scenario_results.hpp"

namespace {

using namespace gapm::detail;
using gapm::testing::describe;
using gapm::testing::run_cluster;

TEST(PipeSchedule, PairsEveryTwoNodesExactlyOnceAndNoNodeTwiceInARound) {
  for (int world = 1; world <= 9; ++world) {
    std::set<std::pair<int, int>> seen;
    for (const auto& round : pairing_rounds(world)) {
      std::set<int> busy;
      for (const auto& [a, b] : round) {
        EXPECT_LT(a, b);
        EXPECT_TRUE(busy.insert(a).second && busy.insert(b).second) << "world " << world;
        EXPECT_TRUE(seen.insert({a, b}).second) << "world " << world << ": pair " << a << "," << b << " twice";
      }
    }
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(world * (world - 1) / 2)) << "world " << world;
  }
}

// The links' id made by this process (for NCCL, this process then serves the bootstrap).
std::string plane_id_hex() {
  const std::string id = active_device_platform()->links->make_id();
  return to_hex(std::span(reinterpret_cast<const std::uint8_t*>(id.data()), id.size()));
}

void expect_conformance(int nodes, std::vector<std::string> env) {
  env.push_back("GAPM_TEST_PLANE_ID=" + plane_id_hex());
  // A bundle of the GPU checks (scripts/gpu-bundle.sh) says where the program is now.
  const char* moved = std::getenv("GAPM_PLANE_CONFORMANCE_BINARY");
  const std::string program = moved != nullptr ? moved : GAPM_PLANE_CONFORMANCE_BINARY;
  const auto results = run_cluster(program, {}, nodes, env, std::chrono::seconds{240});
  for (const auto& r : results) {
    EXPECT_EQ(r.exit_code, 0) << describe(results);
    EXPECT_NE(r.output.find("PASS node"), std::string::npos) << describe(results);
  }
}

#ifdef GAPM_TEST_EMULATED_PLANE

// A node's plane in this process (the emulated links do not mind sharing a device).
std::unique_ptr<row_plane> make_plane(const std::string& id, int rank, std::chrono::milliseconds patience) {
  device_runtime& runtime = active_device_platform()->runtime;
  const auto& links = *active_device_platform()->links;
  return std::make_unique<row_plane>(runtime, 0, rank, 2, links.name(),
                                     links.connect(runtime, 0, rank, 2, id, patience), patience);
}

// Two nodes' planes in this one process, made at once (each connects its pipes with the other).
struct two_planes {
  device_runtime& runtime = active_device_platform()->runtime;
  std::string id = active_device_platform()->links->make_id();
  std::unique_ptr<row_plane> node0, node1;
  device_stream stream = runtime.create_stream();

  two_planes() {
    auto other = std::async(std::launch::async, [&] { return make_plane(id, 1, std::chrono::seconds{60}); });
    node0 = make_plane(id, 0, std::chrono::seconds{60});
    node1 = other.get();
  }
  ~two_planes() { runtime.destroy_stream(stream); }
  device_buffer<std::byte> rows_of(const std::vector<std::byte>& host) {
    device_buffer<std::byte> rows(runtime, host.size(), stream);
    if (!host.empty()) runtime.copy(rows.data(), host.data(), host.size(), stream);
    runtime.synchronize(stream);
    return rows;
  }
  // Sends `host` (all of it) from `plane` to `peer`; returns the transfer's number.
  std::uint64_t send(row_plane& plane, int peer, const std::vector<std::byte>& host,
                     const std::function<void(std::uint64_t)>& announce = [](std::uint64_t) {}) {
    return plane.send(peer, rows_of(host), host.size(), nullptr, announce);
  }
  std::vector<std::byte> host_of(received_rows rows) {
    std::vector<std::byte> host(rows.bytes());
    rows.copy_to_host(host.data(), stream);
    return host;
  }
};

std::vector<std::byte> pattern(std::size_t bytes, int seed) {
  std::vector<std::byte> out(bytes);
  for (std::size_t i = 0; i < bytes; ++i) out[i] = static_cast<std::byte>((i * 7 + static_cast<std::size_t>(seed)) & 0xff);
  return out;
}

TEST(RowPlane, ANodeWhosePeerNeverConnectsGivesUpAtTheDeadline) {
  // The emulated links connect a pipe on its first call, as NCCL does: without its peer, the
  // plane's set-up waits for it, and the deadline ends the wait with an error that says so.
  const std::string id = active_device_platform()->links->make_id();
  const auto start = std::chrono::steady_clock::now();
  try {
    (void)make_plane(id, 0, std::chrono::milliseconds{300});
    ADD_FAILURE() << "a plane without its peer was made";
  } catch (const gapm::comm_error& e) {
    EXPECT_NE(std::string(e.what()).find("did not all connect the data plane's pipes"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds{10});
}

TEST(RowPlane, TransfersArriveWholeAndInTheirPipesOrderWithTheNumbersAnnounced) {
  two_planes planes;
  std::vector<std::uint64_t> announced;
  const std::vector<std::size_t> sizes{5000, 0, 1, 1 << 16};
  for (std::size_t t = 0; t < sizes.size(); ++t) {
    const auto number = planes.send(*planes.node0, 1, pattern(sizes[t], static_cast<int>(t)),
                                    [&](std::uint64_t n) { announced.push_back(n); });
    EXPECT_EQ(number, t);
  }
  EXPECT_EQ(announced, (std::vector<std::uint64_t>{0, 1, 2, 3}));
  for (std::size_t t = 0; t < sizes.size(); ++t)
    EXPECT_EQ(planes.host_of(planes.node1->receive(0, t, sizes[t])), pattern(sizes[t], static_cast<int>(t)));
  // The other direction has pipes of its own, numbered from 0.
  EXPECT_EQ(planes.send(*planes.node1, 0, pattern(10, 9)), 0u);
  EXPECT_EQ(planes.host_of(planes.node0->receive(1, 0, 10)), pattern(10, 9));
}

TEST(RowPlane, ARowBufferIsSentOnlyOnceTheWorkThatFillsItHasRun) {
  two_planes planes;
  const auto expected = pattern(1 << 20, 3);
  device_buffer<std::byte> rows(planes.runtime, expected.size(), planes.stream);
  planes.runtime.host_task(planes.stream, [] { std::this_thread::sleep_for(std::chrono::milliseconds{50}); });
  planes.runtime.copy(rows.data(), expected.data(), expected.size(), planes.stream);
  owned_event filled{planes.runtime, 0};
  planes.runtime.record(filled.get(), planes.stream);
  (void)planes.node0->send(1, std::move(rows), expected.size(), filled.get(), [](std::uint64_t) {});
  EXPECT_EQ(planes.host_of(planes.node1->receive(0, 0, expected.size())), expected);
}

TEST(RowPlane, AnAnnouncementOutOfStepIsRefusedAndLeavesThePipeAsItWas) {
  two_planes planes;
  (void)planes.send(*planes.node0, 1, pattern(8, 1));
  EXPECT_THROW((void)planes.node1->receive(0, 1, 8), gapm::comm_error);
  EXPECT_EQ(planes.host_of(planes.node1->receive(0, 0, 8)), pattern(8, 1));
}

TEST(RowPlane, AbortEndsTransfersWhoseOtherHalfNeverComes) {
  two_planes planes;
  // Node 0 sends what node 1 never receives, and node 1 waits for what node 0 never sends.
  (void)planes.send(*planes.node0, 1, pattern(100, 1));
  received_rows never = planes.node1->receive(0, 0, 100);
  (void)planes.node1->receive(0, 1, 50);
  const auto start = std::chrono::steady_clock::now();
  planes.node0->abort();
  planes.node1->abort();
  planes.node0.reset();
  planes.node1.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds{5});
}

TEST(RowPlane, ATransferOfAnotherSizeThanAnnouncedIsReportedAsAFailure) {
  two_planes planes;
  (void)planes.send(*planes.node0, 1, pattern(100, 1));
  received_rows rows = planes.node1->receive(0, 0, 60);
  std::string failure;
  for (int i = 0; i < 500 && failure.empty(); ++i) {
    failure = planes.node1->failure();
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  EXPECT_NE(failure.find("sent 100 bytes where 60 were expected"), std::string::npos) << failure;
  planes.node0->abort();
  planes.node1->abort();
}

TEST(RowPlaneConformance, EveryNodeSendsToEveryOtherAtOnceFromSeveralThreads) {
  for (int nodes : {2, 3, 4})
    expect_conformance(nodes, {"EMULATED_GPU_COUNT=4", "EMULATED_GPU_JITTER_US=50"});
}

#else  // the real device: NCCL

TEST(RowPlaneConformance, EveryNodeSendsToEveryOtherAtOnceFromSeveralThreads) {
  const device_platform* platform = active_device_platform();
  if (platform == nullptr) GTEST_SKIP() << "no GPU visible: the NCCL row plane needs one GPU per node";
  if (platform->links == nullptr) GTEST_SKIP() << "built without NCCL (GAPM_ENABLE_NCCL)";
  const int gpus = platform->runtime.device_count();
  if (gpus < 2) GTEST_SKIP() << "only " << gpus << " GPU visible: NCCL needs a GPU of its own for each of >= 2 nodes";
  for (int nodes = 2; nodes <= std::min(gpus, 4); ++nodes) expect_conformance(nodes, {"GAPM_TEST_PLANE_TRANSFERS=100"});
}

#endif

}  // namespace
