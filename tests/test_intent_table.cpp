// intent_table: the intent contract (SPEC behaviour 1) and just-in-time registration.
#include "host/adaptive/intent_table.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <set>

#include <gtest/gtest.h>

namespace {

using namespace gapm::detail;
using gapm::clock_type;
using gapm::key_type;

future_intent intent(std::vector<key_type> keys, clock_type start, clock_type end) {
  return {start, end, std::make_shared<const std::vector<key_type>>(std::move(keys))};
}

intent_table eager_table(int workers = 2) { return intent_table(workers, action_timer(10, 0.1, 0.9999, false)); }

// A round in which the workers' clocks read `clocks`.
void register_at(intent_table& table, std::vector<clock_type> clocks, const std::function<void(key_type)>& on_registered) {
  (void)table.register_due([&] { return clocks; }, on_registered);
}

TEST(IntentTable, MergesPerWorkerAndKeyKeepingTheLargestEnd) {
  auto table = eager_table();
  table.submit(0, intent({1, 2}, 0, 10));
  table.submit(0, intent({2}, 0, 30));
  table.submit(1, intent({2}, 0, 5));
  std::multiset<key_type> registered;
  std::vector<clock_type> clocks{0, 0};
  register_at(table, clocks, [&](key_type k) { registered.insert(k); });
  EXPECT_EQ(registered.count(2), 3u);
  EXPECT_TRUE(table.has_intent(1, clocks));
  clocks = {10, 10};  // worker 0's [0,10) on key 1 ends; key 2 lives on until 30
  EXPECT_FALSE(table.has_intent(1, clocks));
  EXPECT_TRUE(table.has_intent(2, clocks));
  clocks = {29, 10};
  EXPECT_TRUE(table.has_intent(2, clocks));
  clocks = {30, 10};
  EXPECT_FALSE(table.has_intent(2, clocks));
  EXPECT_EQ(table.size(), 0u);
}

TEST(IntentTable, ExpiredIntentsAreIgnoredAndFinishedWorkersExpireAll) {
  auto table = eager_table();
  table.submit(0, intent({7}, 0, 5));
  std::vector<clock_type> clocks{6, 0};  // already past its end when registered
  int registered = 0;
  register_at(table, clocks, [&](key_type) { ++registered; });
  EXPECT_EQ(registered, 0);
  table.submit(1, intent({8}, 0, gapm::CLOCK_MAX));
  register_at(table, clocks, [&](key_type) { ++registered; });
  EXPECT_TRUE(table.has_intent(8, clocks));
  clocks[1] = gapm::WORKER_FINISHED;  // finalize(): every intent of the worker expires
  EXPECT_FALSE(table.has_intent(8, clocks));
}

TEST(IntentTable, EndedIntentsFreeTheirEntriesAndTheMapShrinks) {
  // A moving working set: every clock, 1,000 new keys for 3 clocks. Nobody looks the keys up
  // (as for keys whose main copy is here), yet ended intents must not pile up.
  auto table = eager_table(1);
  std::vector<clock_type> clocks{0};
  std::size_t peak_bytes = 0;
  for (clock_type c = 0; c < 200; ++c) {
    std::vector<key_type> keys(1000);
    for (key_type i = 0; i < 1000; ++i) keys[i] = static_cast<key_type>(c) * 1000 + i;
    table.submit(0, intent(keys, c, c + 3));
    clocks[0] = c;
    register_at(table, clocks, [](key_type) {});
    EXPECT_LE(table.size(), 4000u) << "clock " << c;
    peak_bytes = std::max(peak_bytes, table.memory_bytes());
  }
  clocks[0] = 1000;  // everything has ended
  register_at(table, clocks, [](key_type) {});
  EXPECT_EQ(table.size(), 0u);
  EXPECT_LT(table.memory_bytes(), peak_bytes / 16);
}

TEST(IntentTable, ALongLivedIntentEndsWhenItsWorkerFinishes) {
  auto table = eager_table(1);
  table.submit(0, intent({1, 2, 3}, 0, gapm::CLOCK_MAX));
  register_at(table, {0}, [](key_type) {});
  register_at(table, {1000000}, [](key_type) {});
  EXPECT_EQ(table.size(), 3u);
  register_at(table, {gapm::WORKER_FINISHED}, [](key_type) {});
  EXPECT_EQ(table.size(), 0u);
}

// A worker made while a round runs: its clock was read as finished (no worker yet), and its
// first intent arrives right after. The intent must wait for the next round, which sees the
// worker, not be dropped as ended (CI saw a replica never made, and a key relocated away from
// the node that intended it first).
TEST(IntentTable, AnIntentOfAWorkerMadeDuringARoundIsNotTakenForEnded) {
  auto table = eager_table(1);
  int registered = 0;
  auto count = [&](key_type) { ++registered; };
  (void)table.register_due(
      [&] {
        std::vector<clock_type> clocks{gapm::WORKER_FINISHED};  // read before the worker exists
        table.submit(0, intent({9}, 0, gapm::CLOCK_MAX));       // the new worker's first intent
        return clocks;
      },
      count);
  register_at(table, {0}, count);
  EXPECT_EQ(registered, 1);
  EXPECT_TRUE(table.has_intent(9, {0}));
}

// What keeps a sync channel from idling: intents registered, or a scheduled one that becomes
// due within the rounds the channel would pause for (not one far ahead: a worker may stay on
// one clock for long). At 1 clock per round the window is 4 clocks.
TEST(IntentTable, IsActiveWithRegisteredIntentsOrScheduledOnesDueWithinTheRoundsAsked) {
  intent_table table(1, action_timer(1, 0.1, 0.9, true));
  EXPECT_FALSE(table.active(1e9));
  table.submit(0, intent({3}, 1000, 1010));
  EXPECT_TRUE(table.has_submitted());
  register_at(table, {0}, [](key_type) {});
  EXPECT_FALSE(table.has_submitted());
  EXPECT_EQ(table.size(), 0u);
  EXPECT_FALSE(table.active(21)) << "due in 996 rounds";
  EXPECT_TRUE(table.active(996));
  table.submit(0, intent({4}, 8, 20));
  register_at(table, {0}, [](key_type) {});
  EXPECT_EQ(table.size(), 0u);
  EXPECT_FALSE(table.active(2)) << "due in 4 rounds";
  EXPECT_TRUE(table.active(21));
  register_at(table, {8}, [](key_type) {});
  EXPECT_EQ(table.size(), 1u);
  EXPECT_TRUE(table.active(0));
  register_at(table, {5000}, [](key_type) {});  // key 4's intent ended, key 3's before it was due
  EXPECT_EQ(table.size(), 0u);
  EXPECT_FALSE(table.active(1e9));
}

// Worker ids are reusable: a new worker of an id starts at clock 0 and must inherit neither the
// intents of the worker before it (registered or scheduled) nor its pace.
TEST(IntentTable, ANewWorkerOfAnIdInheritsNothingFromTheOneBefore) {
  intent_table table(1, action_timer(1, 0.1, 0.9, true));
  table.submit(0, intent({5}, 0, gapm::CLOCK_MAX));
  table.submit(0, intent({7}, 5000, 6000));
  register_at(table, {1000}, [](key_type) {});
  ASSERT_TRUE(table.has_intent(5, {1000}));
  table.worker_left(0);
  table.submit(0, intent({6}, 2, 10));  // the new worker's, before any round saw the old one go
  std::vector<key_type> registered;
  register_at(table, {0}, [&](key_type k) { registered.push_back(k); });
  EXPECT_EQ(registered, std::vector<key_type>{6}) << "at the initial pace, due at clock 2";
  EXPECT_FALSE(table.has_intent(5, {0}));
  register_at(table, {5000}, [&](key_type k) { registered.push_back(k); });
  EXPECT_EQ(registered, std::vector<key_type>{6}) << "key 7 was the old worker's";
  EXPECT_EQ(table.size(), 0u);
  EXPECT_FALSE(table.active(1e9));
}

TEST(IntentTable, AnExtendedIntentOutlivesTheShorterOne) {
  auto table = eager_table(1);
  table.submit(0, intent({5}, 0, 10));
  table.submit(0, intent({5}, 0, 50));
  register_at(table, {0}, [](key_type) {});
  register_at(table, {20}, [](key_type) {});
  EXPECT_EQ(table.size(), 1u);
  EXPECT_TRUE(table.has_intent(5, {20}));
  register_at(table, {50}, [](key_type) {});
  EXPECT_EQ(table.size(), 0u);
}

TEST(IntentTable, AnIntentIsSplitByChannelWithEveryKeyInItsOwnChannel) {
  std::vector<key_type> keys(1000);
  for (key_type k = 0; k < 1000; ++k) keys[k] = k * 7919;
  const auto parts = split_intent(keys.data(), keys.size(), 3, 9, 4);
  ASSERT_EQ(parts.size(), 4u);
  std::multiset<key_type> seen;
  for (int c = 0; c < 4; ++c) {
    ASSERT_TRUE(parts[c].keys) << "channel " << c << " got none of 1000 keys";
    EXPECT_EQ(parts[c].start, 3);
    EXPECT_EQ(parts[c].end, 9);
    for (key_type k : *parts[c].keys) {
      EXPECT_EQ(channel_of(k, 4), c);
      seen.insert(k);
    }
  }
  EXPECT_EQ(seen, std::multiset<key_type>(keys.begin(), keys.end()));
  const auto one = split_intent(keys.data(), 1, 0, 1, 4);  // a single key: the other parts are empty
  EXPECT_EQ(std::count_if(one.begin(), one.end(), [](const future_intent& p) { return p.keys != nullptr; }), 1);
}

TEST(IntentTable, ActsJustInTime) {
  intent_table table(1, action_timer(10, 0.1, 0.9999, true));  // window 39 at 10 clocks/round
  table.submit(0, intent({1}, 100, 101));
  int registered = 0;
  register_at(table, {0}, [&](key_type) { ++registered; });
  EXPECT_EQ(registered, 0);  // 100 > 0 + 39: too early
  register_at(table, {60}, [&](key_type) { ++registered; });  // 60 clocks in one round: window grows
  EXPECT_EQ(registered, 1);
}

}  // namespace
