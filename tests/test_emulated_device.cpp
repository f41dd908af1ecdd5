// Stream order and lifetimes on the emulated device (cuda/emulation/), where every stream runs
// on its own thread and a stream can be held at a point by a host task: the cases a GPU would
// only show by chance. Each of them failed before the device store ordered its work by streams.
#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <gapm/gapm.hpp>

#include "cuda/device_platform.hpp"
#include "cuda/device_store.hpp"
#include "cuda/emulation/emulated_runtime.hpp"

namespace {

using gapm::key_type;
using namespace gapm::detail;

// A user's stream, held at its current end until release() (a kernel still running).
struct held_stream {
  emulated_runtime& rt = emulated_device();
  device_stream stream = rt.create_stream();
  std::promise<void> gate;
  held_stream() {
    std::shared_future<void> opened = gate.get_future().share();
    rt.host_task(stream, [opened] { opened.wait(); });
  }
  void release() { gate.set_value(); }
  ~held_stream() { rt.destroy_stream(stream); }
};

// A key and its row of 4 values in device memory: the arguments of a queued kernel, freed with
// the test (after it has synchronised the stream that reads them).
struct device_args {
  emulated_runtime& rt = emulated_device();
  key_type* key = static_cast<key_type*>(rt.allocate_now(sizeof(key_type)));
  std::int64_t* row = static_cast<std::int64_t*>(rt.allocate_now(4 * sizeof(std::int64_t)));
  device_args(key_type k, std::int64_t fill) {
    *key = k;
    std::fill_n(row, 4, fill);
  }
  ~device_args() {
    rt.free_now(key);
    rt.free_now(row);
  }
  device_args(const device_args&) = delete;
  device_args& operator=(const device_args&) = delete;
  [[nodiscard]] std::vector<std::int64_t> values() const { return {row, row + 4}; }
};

TEST(EmulatedRuntime, StreamsRunInOrderAndEventsOrderOneAfterAnother) {
  emulated_runtime& rt = emulated_device();
  device_stream a = rt.create_stream(), b = rt.create_stream();
  device_event e = rt.create_event();
  std::vector<int> seen;
  std::mutex m;
  auto note = [&](int v) { return [&, v] { std::lock_guard g{m}; seen.push_back(v); }; };
  rt.host_task(a, [] { std::this_thread::sleep_for(std::chrono::milliseconds(30)); });
  rt.host_task(a, note(1));
  rt.record(e, a);
  rt.wait(b, e);
  rt.host_task(b, note(2));
  rt.synchronize(b);
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
  EXPECT_TRUE(rt.done(e));
  rt.destroy_event(e);
  rt.destroy_stream(a);
  rt.destroy_stream(b);
}

// A gather enqueued on a user's stream while the stream is busy; before it runs, its key is
// erased. The gather must still read the key's row: the slot is taken back only once the
// user's stream has passed the gather, and until then neither another key nor the same key
// again can have it. The erase returns while the user's stream is held: nothing waits for it.
TEST(StreamOrder, AQueuedGatherReadsItsRowEvenIfTheKeyLeavesBeforeItRuns) {
  const device_platform& platform = *active_device_platform();
  emulated_runtime& rt = emulated_device();
  auto store = make_device_store<std::int64_t>(platform, 0, 0, 100, 4, 1, 0.5, false);  // one slot
  const key_type a = 7, b = 9;
  ASSERT_TRUE(store->insert(&a, 1));
  const std::vector<std::int64_t> sevens(4, 7), nines(4, 9);
  store->assign(&a, 1, sevens.data(), {});

  held_stream user;
  device_args pulled(a, -1);
  store->gather(pulled.key, 1, pulled.row, gapm::stream_view{user.stream});  // device buffers: left enqueued
  store->erase(&a, 1);
  EXPECT_FALSE(store->insert(&b, 1)) << "the slot was given out while a queued gather still reads it";
  EXPECT_FALSE(store->can_insert(a)) << "the key came back while its old row is still read";
  EXPECT_EQ(store->free_slots(), 0u);
  user.release();
  rt.synchronize(user.stream);
  EXPECT_EQ(pulled.values(), sevens) << "the queued gather read a retired slot";
  EXPECT_EQ(store->free_slots(), 1u) << "the slot is free once the gather has run";
  ASSERT_TRUE(store->insert(&b, 1));
  store->assign(&b, 1, nines.data(), {});
  std::vector<std::int64_t> now(4);
  store->gather(&b, 1, now.data(), {});
  EXPECT_EQ(now, nines);
}

// gapm's own streams never wait for a user's stream: with a user's stream held (it might wait
// for an NCCL collective that needs this node's progress), keys are erased and inserted and
// other streams' row operations complete. Before slots retired through events, the admin
// stream waited for every user stream, and every later kernel waited for the admin stream.
TEST(StreamOrder, NoRowOperationWaitsForAHeldUsersStream) {
  const device_platform& platform = *active_device_platform();
  emulated_runtime& rt = emulated_device();
  auto store = make_device_store<std::int64_t>(platform, 0, 0, 100, 4, 10, 0.5, false);
  const key_type a = 1, c = 2;
  ASSERT_TRUE(store->insert(&a, 1));
  held_stream user;
  device_args pulled(a, -1);
  store->gather(pulled.key, 1, pulled.row, gapm::stream_view{user.stream});
  auto meanwhile = std::async(std::launch::async, [&] {
    store->erase(&a, 1);
    if (!store->insert(&c, 1)) return false;
    const std::vector<std::int64_t> fives(4, 5);
    store->scatter_add(&c, 1, fives.data(), {});
    std::vector<std::int64_t> row(4);
    store->gather(&c, 1, row.data(), {});
    return row == fives;
  });
  const bool finished = meanwhile.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  user.release();
  EXPECT_TRUE(finished) << "a row operation on another stream waited for the held user's stream";
  EXPECT_TRUE(meanwhile.get());
  rt.synchronize(user.stream);
}

// A push_async still queued on a user's stream when the key moves: the read that takes the
// row away (a relocation's gather, a dropped replica's last delta) comes after
// order_after_queued_work and so includes the push, instead of leaving it to land in a
// retired row.
TEST(StreamOrder, AReadThatMovesAKeySeesAWriteStillQueuedOnAUsersStream) {
  const device_platform& platform = *active_device_platform();
  emulated_runtime& rt = emulated_device();
  auto store = make_device_store<std::int64_t>(platform, 0, 0, 100, 4, 10, 0.5, false);
  const key_type k = 3;
  ASSERT_TRUE(store->insert(&k, 1));
  held_stream user;
  device_args pushed(k, 5);
  store->scatter_add(pushed.key, 1, pushed.row, gapm::stream_view{user.stream});  // queued behind the held work
  const key_type other = 4;  // erased meanwhile: its retired slot takes the stream's event along
  ASSERT_TRUE(store->insert(&other, 1));
  store->erase(&other, 1);
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    user.release();
  });
  store->order_after_queued_work({});
  std::vector<std::int64_t> row(4);
  store->gather(&k, 1, row.data(), {});
  opener.join();
  EXPECT_EQ(row, std::vector<std::int64_t>(4, 5)) << "the moving read missed a queued write";
  rt.synchronize(user.stream);
}

// Keys in device memory that the caller's stream is still writing: gapm checks them as the
// stream leaves them, so an out-of-range key written by earlier work on the stream is refused.
TEST(StreamOrder, DeviceKeysAreCheckedAsTheCallersStreamLeavesThem) {
  emulated_runtime& rt = emulated_device();
  gapm::Options o;
  o.tables = {{100, 4}};
  o.store = gapm::store_kind::cuda;
  gapm::Node<float> node(o);
  gapm::Worker<float> w(node, 0);
  auto* keys = static_cast<key_type*>(rt.allocate_now(2 * sizeof(key_type)));
  auto* out = static_cast<float*>(rt.allocate_now(8 * sizeof(float)));
  keys[0] = 1;
  keys[1] = 2;
  device_stream user = rt.create_stream();
  rt.host_task(user, [keys] {  // a slow kernel that writes the keys
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    keys[1] = 1000;
  });
  EXPECT_THROW(w.pull_async(keys, 2, out, gapm::stream_view{user}), gapm::logic_error);
  rt.synchronize(user);
  rt.destroy_stream(user);
  rt.free_now(keys);
  rt.free_now(out);
  w.finalize();
}

TEST(DeviceStore, ATableThatDoesNotFitFailsAtStartNamingTheBytes) {
  const device_platform& platform = *active_device_platform();
  emulated_runtime& rt = emulated_device();
  std::size_t free_bytes = 0, total_bytes = 0;
  rt.memory_info(free_bytes, total_bytes);
  const std::uint64_t rows = free_bytes / 64 / 2 + 1;  // values fit, values + sync_state do not
  const std::size_t used = rt.used_bytes(0);
  try {
    auto store = make_device_store<float>(platform, 0, 0, rows, 16, rows, 0.5, true);
    FAIL() << "a pool twice the device's memory was made";
  } catch (const gapm::error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("of memory on GPU 0"), std::string::npos) << message;
    EXPECT_NE(message.find("sync_state"), std::string::npos) << message;
  }
  EXPECT_EQ(rt.used_bytes(0), used) << "a failed store must free what it took";
}

TEST(DeviceStore, ANodeThatMayHoldReplicasAllocatesTheirSyncStateWithThePool) {
  const device_platform& platform = *active_device_platform();
  emulated_runtime& rt = emulated_device();
  const std::size_t before = rt.used_bytes(0);
  auto plain = make_device_store<double>(platform, 0, 0, 1000, 8, 1000, 0.5, false);
  const std::size_t plain_bytes = rt.used_bytes(0) - before;
  auto replicas = make_device_store<double>(platform, 0, 0, 1000, 8, 1000, 0.5, true);
  const std::size_t replica_bytes = rt.used_bytes(0) - before - plain_bytes;
  EXPECT_GE(replica_bytes, plain_bytes + 1000 * 8 * sizeof(double));
  const key_type k = 5;
  ASSERT_TRUE(replicas->insert(&k, 1));
  const std::size_t settled = rt.used_bytes(0);
  std::vector<double> delta(8);
  replicas->extract_delta(&k, 1, delta.data(), {});
  // Only the call's staging (a row and a key) may come and go: nothing of sync_state's size.
  EXPECT_LT(rt.used_bytes(0), settled + 1000 * 8 * sizeof(double) / 10)
      << "replica sync allocated device memory mid-training";
}

}  // namespace
