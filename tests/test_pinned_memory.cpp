// Pinned host memory (host/store/pinned_memory.hpp) on the emulated device, which keeps track of
// pinned blocks as CUDA does: gapm's host side of every copy to or from a device is pinned,
// whether the rows are its own (messages of the TCP data plane) or a caller's pageable buffer
// (bounced). Each test runs in a process of its own (gtest_discover_tests), so "before the first
// device store" is a state a test can see.
#include <cstdint>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "cuda/device_buffer.hpp"
#include "cuda/device_platform.hpp"
#include "cuda/device_store.hpp"
#include "cuda/emulation/emulated_runtime.hpp"
#include "host/adaptive/sync_messages.hpp"
#include "host/store/pinned_bounce.hpp"
#include "host/store/pinned_memory.hpp"

namespace {

using gapm::key_type;
using namespace gapm::detail;

TEST(PinnedMemory, BlocksArePinnedOnceADeviceStoreExistsAndOrdinaryBefore) {
  emulated_runtime& rt = emulated_device();
  auto before = std::make_unique<pinned_vector<float>>(100, 1.0f);
  EXPECT_FALSE(rt.is_pinned(before->data()));
  auto store = make_device_store<float>(*active_device_platform(), 0, 0, 100, 4, 50, 0.5, false);
  pinned_vector<float> after(100, 2.0f);
  EXPECT_TRUE(rt.is_pinned(after.data()));
  EXPECT_TRUE(rt.is_pinned(after.data() + 99));
  const std::size_t cached = pinned_bytes_cached();
  before.reset();  // an ordinary block goes back as one (ASan would report a mismatched free)
  EXPECT_EQ(pinned_bytes_cached(), cached);
}

TEST(PinnedMemory, FreedBlocksAreKeptForReuseAndNeverUnpinned) {
  emulated_runtime& rt = emulated_device();
  pin_host_memory_on(rt, 0);
  void* first = allocate_pinned_block(10'000);
  const std::size_t cached = pinned_bytes_cached();
  free_pinned_block(first);
  EXPECT_EQ(pinned_bytes_cached(), cached + 16'384) << "10,000 bytes and the header take a 16 KiB block";
  void* again = allocate_pinned_block(9'000);
  EXPECT_EQ(again, first) << "a block of the same size class is reused, not pinned anew";
  EXPECT_TRUE(rt.is_pinned(again));
  EXPECT_EQ(pinned_bytes_cached(), cached);

  // Blocks given back in a stream's host task (as a copy's host side is) stay pinned: unpinning
  // there would be a runtime call inside a callback, which CUDA forbids.
  void* large = allocate_pinned_block(std::size_t{300} << 20);  // a 512 MiB block
  device_stream stream = rt.create_stream();
  rt.host_task(stream, [large, again] {
    free_pinned_block(large);
    free_pinned_block(again);
  });
  rt.synchronize(stream);
  rt.destroy_stream(stream);
  EXPECT_TRUE(rt.is_pinned(large));
  EXPECT_EQ(pinned_bytes_cached(), cached + 16'384 + (std::size_t{512} << 20));
  void* reused = allocate_pinned_block(std::size_t{400} << 20);
  EXPECT_EQ(reused, large);
  free_pinned_block(reused);
}

TEST(PinnedMemory, ADeviceStoreCopiesPageableBuffersThroughPinnedMemory) {
  emulated_runtime& rt = emulated_device();
  constexpr std::uint32_t row = 8;
  auto store = make_device_store<double>(*active_device_platform(), 0, 0, 1000, row, 600, 0.5, true);
  std::vector<key_type> keys(500);  // pageable, as a caller's buffers may be
  std::iota(keys.begin(), keys.end(), key_type{100});
  ASSERT_TRUE(store->insert(keys.data(), keys.size()));
  std::vector<double> deltas(keys.size() * row);
  std::iota(deltas.begin(), deltas.end(), 0.25);
  const std::uint64_t pageable_before = rt.pageable_copies();
  store->scatter_add(keys.data(), keys.size(), deltas.data(), {});
  std::vector<double> out(deltas.size(), -1.0);
  store->gather(keys.data(), keys.size(), out.data(), {});
  EXPECT_EQ(out, deltas);
  EXPECT_EQ(rt.pageable_copies(), pageable_before) << "no copy of the store touched pageable memory";

  // The counter counts: a copy straight from pageable memory is one.
  device_buffer<double> on_device(rt, 4, nullptr);
  rt.copy(on_device.data(), deltas.data(), 4 * sizeof(double), nullptr);
  rt.synchronize(nullptr);
  EXPECT_EQ(rt.pageable_copies(), pageable_before + 1);
}

TEST(PinnedMemory, ABounceLandsTheRowsInTheCallersBuffer) {
  emulated_runtime& rt = emulated_device();
  pin_host_memory_on(rt, 0);
  std::vector<std::int64_t> pageable{1, 2, 3, 4};
  device_buffer<std::int64_t> on_device(rt, 4, nullptr);
  const pinned_bounce in = pinned_bounce::to_device(rt, pageable.data(), 4 * sizeof(std::int64_t));
  EXPECT_NE(in.data(), pageable.data());
  EXPECT_TRUE(rt.is_pinned(in.data()));
  rt.copy(on_device.data(), in.data(), 4 * sizeof(std::int64_t), nullptr);
  std::vector<std::int64_t> back(4, 0);
  const pinned_bounce out = pinned_bounce::from_device(rt, back.data(), 4 * sizeof(std::int64_t));
  rt.copy(out.data(), on_device.data(), 4 * sizeof(std::int64_t), nullptr);
  rt.synchronize(nullptr);
  out.land();
  EXPECT_EQ(back, pageable);

  pinned_vector<std::int64_t> pinned(4);
  EXPECT_EQ(pinned_bounce::to_device(rt, pinned.data(), 4 * sizeof(std::int64_t)).data(), pinned.data())
      << "a pinned buffer needs no bounce";
}

TEST(PinnedMemory, SyncMessagesDecodeTheirRowsIntoPinnedMemory) {
  emulated_runtime& rt = emulated_device();
  pin_host_memory_on(rt, 0);
  const key_space keys({{40, 3}});
  sync_response<float> response;
  response.handled = 1;
  response.add(2, sync_answer::value, 9);  // channel 0 of 1
  response.values.assign(3, 0.5f);
  const auto answer = sync_response<float>::decode(wire::local_message(response.encode({.worker = 0})), keys, 1, 0);
  EXPECT_TRUE(rt.is_pinned(answer.values.data()));

  sync_request<float> request;
  const std::vector<float> delta{1.0f, 2.0f, 3.0f};
  request.add(5, sync_ask::delta, 0, delta);
  const auto asked = sync_request<float>::decode(wire::local_message(request.encode({.origin = 1, .worker = 0})), keys, 1, 0);
  EXPECT_TRUE(rt.is_pinned(asked.deltas.data()));
}

TEST(PinnedMemoryDeathTest, TheStrictEmulationRefusesACopyFromPageableMemory) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        emulated_runtime::settings strict;
        strict.strict = true;
        emulated_runtime rt{strict};
        rt.set_device(0);
        std::vector<float> pageable(16, 1.0f);
        void* on_device = rt.allocate_now(pageable.size() * sizeof(float));
        rt.copy(on_device, pageable.data(), pageable.size() * sizeof(float), nullptr);
        rt.synchronize(nullptr);
      },
      "pageable host memory");
}

#if defined(__SANITIZE_ADDRESS__)
// A cached block is poisoned: an async copy that still reads a block gapm gave back (a missing
// synchronisation) shows up under ASan, though the block stays allocated for reuse.
TEST(PinnedMemoryDeathTest, ReadingABlockAfterItWentBackToTheCacheIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        pin_host_memory_on(emulated_device(), 0);
        auto* block = static_cast<volatile std::byte*>(allocate_pinned_block(100));
        block[0] = std::byte{1};
        free_pinned_block(const_cast<std::byte*>(block));
        (void)block[0];
      },
      "use-after-poison");
}
#endif

}  // namespace
