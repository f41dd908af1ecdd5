// A single node (world size 1): the worker API end to end, and every error case leaving the
// store unchanged.
#include <gapm/gapm.hpp>

#include <cstdint>
#include <filesystem>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "expect_error.hpp"

namespace {

using gapm::testing::expect_error;

using gapm::key_type;
using value = std::int64_t;

// Two tables: keys [0, 10) with rows of 4 values, keys [10, 15) with rows of 2.
gapm::Options two_tables(int workers = 1) {
  gapm::Options o;
  o.tables = {{10, 4}, {5, 2}};
  o.workers = workers;
  return o;
}

// Every value of every key, for before/after comparisons.
std::vector<value> snapshot(gapm::Worker<value>& w, const gapm::Node<value>& node) {
  std::vector<key_type> keys(node.num_keys());
  std::iota(keys.begin(), keys.end(), key_type{0});
  std::vector<value> out(10 * 4 + 5 * 2);
  w.pull(keys.data(), keys.size(), out.data());
  return out;
}

TEST(SingleNode, StartsWithZerosAndReportsItsShape) {
  gapm::Node<value> node(two_tables());
  EXPECT_EQ(node.rank(), 0);
  EXPECT_EQ(node.world_size(), 1);
  EXPECT_EQ(node.num_keys(), 15u);
  EXPECT_EQ(node.row_length(9), 4u);
  EXPECT_EQ(node.row_length(10), 2u);
  gapm::Worker<value> w(node, 0);
  EXPECT_EQ(snapshot(w, node), std::vector<value>(50, 0));
  auto stats = node.stats();
  EXPECT_EQ(stats.slots_used, 15u);
}

TEST(SingleNode, PushAddsSetOverwritesPullIsPositionalAcrossTables) {
  gapm::Node<value> node(two_tables());
  gapm::Worker<value> w(node, 0);
  std::vector<key_type> keys{3, 12, 3};
  std::vector<value> deltas{1, 2, 3, 4, 50, 60, 10, 20, 30, 40};
  auto ticket = w.push(keys.data(), keys.size(), deltas.data());
  EXPECT_TRUE(ticket.is_local());
  EXPECT_TRUE(w.is_finished(ticket));

  std::vector<key_type> read{12, 3, 12};
  std::vector<value> out(2 + 4 + 2);
  w.wait(w.pull(read.data(), read.size(), out.data()));
  EXPECT_EQ(out, (std::vector<value>{50, 60, 11, 22, 33, 44, 50, 60}));

  std::vector<key_type> set_keys{12, 3, 12};  // repeated key: the last row wins
  std::vector<value> values{1, 1, 7, 7, 7, 7, 2, 2};
  w.set(set_keys.data(), set_keys.size(), values.data());
  w.pull(read.data(), read.size(), out.data());
  EXPECT_EQ(out, (std::vector<value>{2, 2, 7, 7, 7, 7, 2, 2}));
  auto stats = node.stats();
  EXPECT_EQ(stats.pulls_local, 6u);
  EXPECT_EQ(stats.pushes_local, 6u);
  EXPECT_EQ(stats.pulls_remote, 0u);
}

TEST(SingleNode, SpanOverloadsCheckTheRowLengths) {
  gapm::Node<value> node(two_tables());
  gapm::Worker<value> w(node, 0);
  std::vector<key_type> keys{1, 11};  // rows of 4 and 2: 6 values
  std::vector<value> wrong(5, 1);
  const auto before = snapshot(w, node);
  expect_error([&] { w.push(std::span<const key_type>(keys), std::span<const value>(wrong)); },
                     "push: the value buffer holds 5 values, but the 2 keys' rows need 6");
  expect_error([&] { w.pull(std::span<const key_type>(keys), std::span<value>(wrong)); }, "pull:");
  expect_error([&] { w.set(std::span<const key_type>(keys), std::span<const value>(wrong)); }, "set:");
  EXPECT_EQ(snapshot(w, node), before);
  std::vector<value> right(6, 1);
  w.push(std::span<const key_type>(keys), std::span<const value>(right));
  EXPECT_NE(snapshot(w, node), before);
}

TEST(SingleNode, BadInputIsRejectedAndChangesNothing) {
  gapm::Node<value> node(two_tables());
  gapm::Worker<value> w(node, 0);
  std::vector<key_type> seed{0, 5, 14};
  std::vector<value> ones(4 + 4 + 2, 1);
  w.push(seed.data(), seed.size(), ones.data());
  const auto before = snapshot(w, node);

  std::vector<key_type> keys{2, 15, 4};  // 15 is one past the end
  std::vector<value> rows(12, 9);
  expect_error([&] { w.push(keys.data(), keys.size(), rows.data()); },
                     "push: key 15 is out of range [0, 15)");
  expect_error([&] { w.set(keys.data(), keys.size(), rows.data()); }, "set: key 15 is out of range");
  std::vector<value> out(12, -3);
  expect_error([&] { w.pull(keys.data(), keys.size(), out.data()); }, "pull: key 15");
  EXPECT_EQ(out, std::vector<value>(12, -3));  // nothing half-written either
  expect_error([&] { w.push(nullptr, 2, rows.data()); }, "push: keys is null");
  expect_error([&] { w.push(keys.data(), 1, nullptr); }, "push: values are null");
  expect_error([&] { w.pull(keys.data(), 1, nullptr); }, "pull: out is null");
  expect_error([&] { w.intent(keys.data(), keys.size(), 0, 5); }, "intent: key 15");
  EXPECT_EQ(snapshot(w, node), before);
}

TEST(SingleNode, ClocksAndIntents) {
  gapm::Node<value> node(two_tables());
  gapm::Worker<value> w(node, 0);
  EXPECT_EQ(w.clock(), 0);
  std::vector<key_type> keys{1, 2, 3};
  w.intent(keys.data(), keys.size(), 5, 10);
  w.intent(keys.data(), keys.size(), 0, gapm::CLOCK_MAX);
  w.intent(std::span<const key_type>(keys), 7);  // end defaults to start + 1
  for (int i = 0; i < 12; ++i) w.advance_clock();
  EXPECT_EQ(w.clock(), 12);
  EXPECT_EQ(node.stats().intent_keys, 9u);
  expect_error([&] { w.intent(keys.data(), keys.size(), 5, 5); }, "end clock 5 is not after start clock 5");
  expect_error([&] { w.intent(keys.data(), keys.size(), -1, 5); }, "start clock -1 is negative");
  w.wait_sync();  // a single node has nothing to sync: returns at once
  EXPECT_EQ(node.stats().intent_keys, 9u);
}

TEST(SingleNode, WorkerIdsAreCheckedAndUnique) {
  gapm::Node<value> node(two_tables(2));
  gapm::Worker<value> a(node, 0);
  expect_error([&] { gapm::Worker<value> again(node, 0); }, "a worker with this id already exists");
  expect_error([&] { gapm::Worker<value> out(node, 2); }, "worker id is out of range [0, 2)");
  gapm::Worker<value> b(node, 1);
  EXPECT_EQ(b.id(), 1);
}

TEST(SingleNode, UseAfterFinalizeOrShutdownIsAnError) {
  gapm::Node<value> node(two_tables());
  gapm::Worker<value> w(node, 0);
  key_type k = 1;
  std::vector<value> row(4, 1);
  w.finalize();
  EXPECT_EQ(w.clock(), gapm::WORKER_FINISHED);
  expect_error([&] { w.push(&k, 1, row.data()); }, "push: worker 0 used after finalize()");
  expect_error([&] { w.advance_clock(); }, "advance_clock: worker 0 used after finalize()");

  gapm::Node<value> other(two_tables());
  gapm::Worker<value> v(other, 0);
  other.shutdown();
  other.shutdown();  // idempotent
  expect_error([&] { v.pull(&k, 1, row.data()); }, "pull: worker 0 used after the node was shut down");
}

TEST(SingleNode, InvalidOptionsFailTheNode) {
  gapm::Options o;
  expect_error([&] { gapm::Node<float> node(o); }, "'tables' is empty");
  o.tables = {{100, 8}};
  o.capacity = 10;  // fewer slots than the home keys of the single node
  expect_error([&] { gapm::Node<float> node(o); }, "needs 100 row slots");
}

TEST(SingleNode, StreamsNeedTheCudaStore) {
  gapm::Options o;
  o.tables = {{4, 2}};
  o.store = gapm::store_kind::cpu;
  gapm::Node<float> node(o);
  gapm::Worker<float> w(node, 0);
  key_type k = 0;
  float row[2] = {1, 2};
  int fake_stream_object = 0;
  EXPECT_THROW(w.push_async(&k, 1, row, gapm::stream_view{&fake_stream_object}), gapm::unsupported_error);
  w.push_async(&k, 1, row, gapm::stream_view{});  // the default stream works everywhere
  float out[2] = {};
  w.pull_async(&k, 1, out, gapm::stream_view{});
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], 2.0f);
}

TEST(SingleNode, BarrierReleasesAllWorkersTogether) {
  gapm::Node<value> node(two_tables(3));
  std::atomic<int> arrived{0};
  std::vector<std::thread> threads;
  std::atomic<bool> early{false};
  for (int id = 0; id < 3; ++id)
    threads.emplace_back([&, id] {
      gapm::Worker<value> w(node, id);
      for (int round = 1; round <= 5; ++round) {
        arrived.fetch_add(1);
        w.barrier();
        if (arrived.load() < 3 * round) early = true;
        w.barrier();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_FALSE(early.load());
}

TEST(SingleNode, SaveAndLoadRoundTripAndRejectMismatches) {
  const auto dir = std::filesystem::temp_directory_path() / ("gapm_save_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "model.bin").string();
  std::vector<value> saved;
  {
    gapm::Node<value> node(two_tables());
    gapm::Worker<value> w(node, 0);
    std::vector<key_type> keys{0, 9, 14};
    std::vector<value> rows{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    w.push(keys.data(), keys.size(), rows.data());
    node.save(path);
    saved = snapshot(w, node);
  }
  gapm::Node<value> node(two_tables());
  gapm::Worker<value> w(node, 0);
  node.load(path);
  EXPECT_EQ(snapshot(w, node), saved);

  gapm::Options other = two_tables();
  other.tables[1].row_length = 3;
  gapm::Node<value> mismatched(other);
  EXPECT_THROW(mismatched.load(path), gapm::error);
  gapm::Node<float> wrong_type(two_tables());
  EXPECT_THROW(wrong_type.load(path), gapm::error);
  EXPECT_THROW(node.load((dir / "missing.bin").string()), gapm::error);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  const auto before = snapshot(w, node);
  EXPECT_THROW(node.load(path), gapm::error);
  EXPECT_EQ(snapshot(w, node), before);
  std::filesystem::remove_all(dir);
}

TEST(SingleNode, WorksForEveryValueType) {
  gapm::Options o;
  o.tables = {{3, 2}};
  {
    gapm::Node<float> node(o);
    gapm::Worker<float> w(node, 0);
    key_type k = 2;
    float d[2] = {0.5f, -1.25f}, out[2] = {};
    w.push(&k, 1, d);
    w.push(&k, 1, d);
    w.pull(&k, 1, out);
    EXPECT_FLOAT_EQ(out[0], 1.0f);
    EXPECT_FLOAT_EQ(out[1], -2.5f);
  }
  {
    gapm::Node<double> node(o);
    gapm::Worker<double> w(node, 0);
    key_type k = 1;
    double d[2] = {0.25, 3}, out[2] = {};
    w.set(&k, 1, d);
    w.pull(&k, 1, out);
    EXPECT_DOUBLE_EQ(out[0], 0.25);
    EXPECT_DOUBLE_EQ(out[1], 3);
  }
}

TEST(SingleNode, TablesThatDoNotFitInMemoryFailWithAClearErrorBeforeAnyAllocation) {
  gapm::Options huge;
  huge.set("tables", "1000000000000x1024");
  expect_error<gapm::error>([&] { gapm::Node<float> node(huge); }, "table 0 (1000000000000 keys x 1024 values of 4 bytes) needs");
  expect_error<gapm::error>([&] { gapm::Node<float> node(huge); }, "are available");
  gapm::Options wide;
  wide.set("tables", "100x16,10000000x1048576");
  expect_error<gapm::error>([&] { gapm::Node<double> node(wide); }, "table 1 (10000000 keys x 1048576 values of 8 bytes)");
  wide.set("tables", "100x16,1000x4294967295");  // a row of 32 GiB: refused by its range first
  expect_error<gapm::logic_error>([&] { gapm::Node<double> node(wide); }, "table 1 has row length 4294967295; at most");
}

}  // namespace
