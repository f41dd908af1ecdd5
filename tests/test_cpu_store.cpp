// cpu_store: every row operation, slot management and the replica arithmetic.
#include "host/store/cpu_store.hpp"

#include <cstdint>
#include <limits>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

using gapm::key_type;
using store = gapm::detail::cpu_store<std::int64_t>;

// Table keys [100, 110), rows of 3 values, room for 6 rows.
store make_store() { return store{100, 10, 3, 6}; }

std::vector<std::int64_t> gather(store& s, std::vector<key_type> keys) {
  std::vector<std::int64_t> out(keys.size() * 3, -1);
  s.gather(keys.data(), keys.size(), out.data(), {});
  return out;
}

TEST(CpuStore, InsertGivesZeroRowsAndRespectsCapacity) {
  auto s = make_store();
  std::vector<key_type> keys{100, 105, 105, 109};
  ASSERT_TRUE(s.insert(keys.data(), keys.size()));
  EXPECT_EQ(s.index().size(), 3u);  // the repeated key got one slot
  EXPECT_TRUE(s.contains(105));
  EXPECT_FALSE(s.contains(101));
  EXPECT_EQ(gather(s, {100, 109}), std::vector<std::int64_t>(6, 0));

  std::vector<key_type> too_many{101, 102, 103, 104};  // 3 + 4 > 6: all or nothing
  EXPECT_FALSE(s.insert(too_many.data(), too_many.size()));
  EXPECT_EQ(s.index().size(), 3u);
  for (key_type k : too_many) EXPECT_FALSE(s.contains(k));
}

TEST(CpuStore, ErasedSlotsAreReusedWithZeroRows) {
  auto s = make_store();
  std::vector<key_type> keys{100, 101, 102, 103, 104, 105};
  ASSERT_TRUE(s.insert(keys.data(), keys.size()));
  std::vector<std::int64_t> ones(18, 7);
  s.scatter_add(keys.data(), keys.size(), ones.data(), {});
  key_type gone = 102;
  s.erase(&gone, 1);
  EXPECT_FALSE(s.contains(102));
  key_type fresh = 109;
  ASSERT_TRUE(s.insert(&fresh, 1));
  EXPECT_EQ(gather(s, {109}), (std::vector<std::int64_t>{0, 0, 0}));
  EXPECT_EQ(gather(s, {103}), (std::vector<std::int64_t>{7, 7, 7}));
}

TEST(CpuStore, ScatterAddSumsRepeatedKeysAndGatherIsPositional) {
  auto s = make_store();
  std::vector<key_type> keys{100, 101};
  ASSERT_TRUE(s.insert(keys.data(), keys.size()));
  std::vector<key_type> push_keys{101, 100, 101};
  std::vector<std::int64_t> deltas{1, 2, 3, 10, 20, 30, 100, 200, 300};
  s.scatter_add(push_keys.data(), push_keys.size(), deltas.data(), {});
  EXPECT_EQ(gather(s, {101, 100, 101}),
            (std::vector<std::int64_t>{101, 202, 303, 10, 20, 30, 101, 202, 303}));
}

TEST(CpuStore, AssignOverwrites) {
  auto s = make_store();
  std::vector<key_type> keys{104};
  ASSERT_TRUE(s.insert(keys.data(), 1));
  std::vector<std::int64_t> v{5, 5, 5};
  s.scatter_add(keys.data(), 1, v.data(), {});
  std::vector<std::int64_t> w{-1, 0, 1};
  s.assign(keys.data(), 1, w.data(), {});
  EXPECT_EQ(gather(s, {104}), w);
}

TEST(CpuStore, ExtractDeltaAndRefreshMergeFollowTheReplicaArithmetic) {
  auto s = make_store();
  key_type k = 103;
  ASSERT_TRUE(s.insert(&k, 1));
  // A fresh replica: the owner's value arrives as a refresh.
  std::vector<std::int64_t> main0{10, 20, 30};
  s.refresh_merge(&k, 1, main0.data(), {});
  EXPECT_EQ(gather(s, {103}), main0);
  // Local pushes accumulate; the delta is exactly what was pushed since the last sync.
  std::vector<std::int64_t> push{1, 2, 3};
  s.scatter_add(&k, 1, push.data(), {});
  s.scatter_add(&k, 1, push.data(), {});
  std::vector<std::int64_t> delta(3);
  s.extract_delta(&k, 1, delta.data(), {});
  EXPECT_EQ(delta, (std::vector<std::int64_t>{2, 4, 6}));
  s.extract_delta(&k, 1, delta.data(), {});
  EXPECT_EQ(delta, (std::vector<std::int64_t>{0, 0, 0}));  // sent exactly once
  // One more local push, then a refresh with the owner's newer value: the unsent push stays.
  s.scatter_add(&k, 1, push.data(), {});
  std::vector<std::int64_t> main1{1000, 2000, 3000};
  s.refresh_merge(&k, 1, main1.data(), {});
  EXPECT_EQ(gather(s, {103}), (std::vector<std::int64_t>{1001, 2002, 3003}));
  s.extract_delta(&k, 1, delta.data(), {});
  EXPECT_EQ(delta, push);
}

// A replica changed when a value differs in its bits from its sync_state: a tiny push is a
// change (its square underflows), a NaN is one once (then value and sync_state are the same
// NaN: no NaN delta every round), and the squares are measured only when asked for.
TEST(CpuStore, AReplicaChangedWhenAValueDiffersInItsBitsFromItsSyncState) {
  gapm::detail::cpu_store<double> s(0, 16, 2, 16);
  key_type k = 3;
  ASSERT_TRUE(s.insert(&k, 1));
  const double main[2] = {0.0, 2.0};  // 1e-200 added to 0 is a change; added to 1 it is lost
  s.refresh_merge(&k, 1, main, {});
  auto measured = [&](bool with_norm) {
    gapm::detail::delta_measure m;
    s.measure_delta(&k, 1, &m, with_norm, {});
    return m;
  };
  auto push_and_take = [&](double a, double b) {
    const double push[2] = {a, b};
    s.scatter_add(&k, 1, push, {});
    const auto before = measured(true);
    double delta[2];
    s.extract_delta(&k, 1, delta, {});
    return before;
  };
  EXPECT_EQ(measured(false).changed, 0u);
  const auto tiny = push_and_take(1e-200, 0);
  EXPECT_EQ(tiny.changed, 1u);
  EXPECT_EQ(tiny.squares, 0.0);  // underflows: "changed" never comes from the norm
  EXPECT_EQ(measured(true).changed, 0u);  // taken
  const auto norm = push_and_take(3, 4);
  EXPECT_DOUBLE_EQ(norm.squares, 25.0);
  EXPECT_EQ(push_and_take(std::numeric_limits<double>::quiet_NaN(), 0).changed, 1u);
  EXPECT_EQ(measured(false).changed, 0u);  // the same NaN in value and sync_state
  const double more[2] = {0, 1};
  s.scatter_add(&k, 1, more, {});
  EXPECT_EQ(measured(false).changed, 1u);
  EXPECT_EQ(measured(false).squares, 0.0);  // not asked for
}

// int64 sums past the range wrap around (defined, two's complement) instead of overflowing
// (undefined; UBSan caught it in a test that doubles its values), and the replica arithmetic
// still gives back exactly what was pushed.
TEST(CpuStore, Int64ArithmeticWrapsAroundAndTheReplicaArithmeticStaysExact) {
  constexpr std::int64_t most = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t least = std::numeric_limits<std::int64_t>::min();
  auto s = make_store();
  key_type k = 104;
  ASSERT_TRUE(s.insert(&k, 1));
  const std::vector<std::int64_t> main0{most, least, 0};
  s.refresh_merge(&k, 1, main0.data(), {});
  const std::vector<std::int64_t> push{1, -1, most};
  s.scatter_add(&k, 1, push.data(), {});
  EXPECT_EQ(gather(s, {104}), (std::vector<std::int64_t>{least, most, most}));
  std::vector<std::int64_t> delta(3);
  s.extract_delta(&k, 1, delta.data(), {});
  EXPECT_EQ(delta, push);
  s.scatter_add(&k, 1, push.data(), {});
  const std::vector<std::int64_t> main1{least, most, least};
  s.refresh_merge(&k, 1, main1.data(), {});
  EXPECT_EQ(gather(s, {104}), (std::vector<std::int64_t>{least + 1, most - 1, -1}));
}

TEST(CpuStore, ConcurrentAddsAndDeltaExtractionLoseNothing) {
  store s{0, 4, 2, 4};
  std::vector<key_type> keys{0, 1, 2, 3};
  ASSERT_TRUE(s.insert(keys.data(), keys.size()));
  constexpr int threads = 4, rounds = 20000;
  std::vector<std::int64_t> extracted(8, 0);
  std::atomic<bool> done{false};
  std::thread syncer([&] {  // plays the sync manager, draining deltas while workers push
    std::vector<std::int64_t> delta(8);
    while (!done.load()) {
      s.extract_delta(keys.data(), 4, delta.data(), {});
      for (int i = 0; i < 8; ++i) extracted[static_cast<std::size_t>(i)] += delta[static_cast<std::size_t>(i)];
    }
    s.extract_delta(keys.data(), 4, delta.data(), {});
    for (int i = 0; i < 8; ++i) extracted[static_cast<std::size_t>(i)] += delta[static_cast<std::size_t>(i)];
  });
  std::vector<std::thread> pushers;
  for (int t = 0; t < threads; ++t)
    pushers.emplace_back([&, t] {
      std::vector<std::int64_t> d{1, t + 1};
      for (int r = 0; r < rounds; ++r) {
        key_type k = static_cast<key_type>(r % 4);
        s.scatter_add(&k, 1, d.data(), {});
      }
    });
  for (auto& p : pushers) p.join();
  done = true;
  syncer.join();
  std::int64_t sum_first = 0, sum_second = 0;
  for (int i = 0; i < 4; ++i) {
    sum_first += extracted[static_cast<std::size_t>(2 * i)];
    sum_second += extracted[static_cast<std::size_t>(2 * i + 1)];
  }
  EXPECT_EQ(sum_first, threads * rounds);
  EXPECT_EQ(sum_second, rounds * (1 + 2 + 3 + 4));
}

}  // namespace
