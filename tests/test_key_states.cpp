// key_states and its parts: per-key state that follows what a node holds (one byte per key,
// records only where they carry something), the sparse home directory, the bounded cache.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "host/adaptive/home_directory.hpp"
#include "host/adaptive/key_states.hpp"
#include "host/adaptive/location_cache.hpp"

namespace {

using namespace gapm::detail;

// Every KeyStates test runs with the sparse state (budget 0) and the dense arrays.
class KeyStates : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(KeyStates, HomeKeysStartAsMainCopiesAndTheOthersAbsentWithoutRecords) {
  key_states states(10, /*rank=*/1, /*world_size=*/3, GetParam());
  for (gapm::key_type k = 0; k < 10; ++k) {
    EXPECT_EQ(states.role(k), k % 3 == 1 ? key_role::main : key_role::absent) << k;
    EXPECT_EQ(states.version(k), k % 3 == 1 ? 0 : -1) << k;
    EXPECT_FALSE(states.shared(k));
    EXPECT_EQ(states.find(k), nullptr);
  }
  EXPECT_EQ(states.records(), 0u);
  EXPECT_EQ(states.dense(), GetParam() > 0);
}

TEST_P(KeyStates, RoleChangesKeepTheSharedMark) {
  key_states states(4, 0, 2, GetParam());
  states.track(2);
  states.mark_shared(2);
  states.set_role(2, key_role::absent);
  EXPECT_TRUE(states.shared(2));
  EXPECT_EQ(states.role(2), key_role::absent);
  states.set_role(2, key_role::replica);
  EXPECT_TRUE(states.readable(2));
  states.set_shared(2, false);
  EXPECT_EQ(states.role(2), key_role::replica);
  EXPECT_FALSE(states.shared(2));
}

TEST_P(KeyStates, OnlySharedMainCopiesWithARecordAdvanceTheirVersion) {
  key_states states(4, 0, 2, GetParam());
  states.advance_version(0);  // never replicated: no record, nothing to advance
  EXPECT_EQ(states.find(0), nullptr);
  states.track(0);
  states.advance_version(0);
  states.advance_version(0);
  EXPECT_EQ(states.version(0), 2);
}

TEST_P(KeyStates, AHandedOverKeyKeepsItsForwardingPointerAndAForgottenReplicaItsNothing) {
  key_states states(8, 0, 2, GetParam());
  EXPECT_EQ(states.handed_over(4, 1), 1);  // the first relocation of a home key
  EXPECT_EQ(states.version(4), 0);           // a main copy's version goes with it
  EXPECT_EQ(states.role(4), key_role::main);  // the caller changes the role
  states.set_role(4, key_role::absent);
  const key_knowledge moved = states.knowledge(4);
  EXPECT_EQ(moved.successor, 1);
  EXPECT_EQ(moved.last_event, 1);
  states.forget(4);  // it remembers a relocation: kept
  EXPECT_NE(states.find(4), nullptr);

  states.track(5);  // a replica was asked for ...
  states.set_role(5, key_role::pending);
  EXPECT_TRUE(states.knowledge(5).requested);
  states.set_role(5, key_role::absent);  // ... and dropped
  states.forget(5);
  EXPECT_EQ(states.find(5), nullptr);
  EXPECT_EQ(states.knowledge(5).last_event, 0);
  EXPECT_EQ(states.knowledge(5).successor, -1);

  states.received(7, 6);  // a main copy arrived with counter 6
  EXPECT_EQ(states.knowledge(7).last_event, 6);
  EXPECT_EQ(states.handed_over(7, 1), 7);
}

TEST_P(KeyStates, TheHomeRoutesByItsDirectory) {
  key_states states(8, 0, 2, GetParam());
  EXPECT_EQ(states.knowledge(2).directory_owner, 0);
  EXPECT_TRUE(states.update_owner(2, 1, 3));
  EXPECT_EQ(states.knowledge(2).directory_owner, 1);
  EXPECT_EQ(states.knowledge(2).directory_counter, 3);
  EXPECT_EQ(states.knowledge(3).directory_owner, -1);  // not homed here: no directory
}

INSTANTIATE_TEST_SUITE_P(SparseAndDense, KeyStates, ::testing::Values(std::uint64_t{0}, std::uint64_t{1} << 20));

class HomeDirectory : public ::testing::TestWithParam<bool> {};

TEST_P(HomeDirectory, AcceptsOnlyNewerCounters) {
  home_directory directory(/*home=*/2, /*world_size=*/4, /*num_keys=*/100, /*dense=*/GetParam());
  EXPECT_EQ(directory.find(10).owner, 2);
  EXPECT_EQ(directory.find(10).counter, 0);
  EXPECT_FALSE(directory.update(10, 1, 0));  // not newer than "never moved"
  EXPECT_EQ(directory.find(10).owner, 2);
  EXPECT_TRUE(directory.update(10, 1, 2));
  EXPECT_FALSE(directory.update(10, 0, 1));  // late news of an older relocation
  EXPECT_EQ(directory.find(10).owner, 1);
  EXPECT_TRUE(directory.update(10, 2, 3));  // back home: still dated
  EXPECT_EQ(directory.find(10).owner, 2);
  EXPECT_EQ(directory.find(10).counter, 3);
  EXPECT_EQ(directory.find(14).counter, 0);  // a neighbour is untouched
}

TEST_P(HomeDirectory, ConcurrentUpdatesKeepTheNewestCounter) {
  home_directory directory(0, 1, 16, GetParam());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (std::int64_t c = 1; c <= 10'000; ++c) directory.update(static_cast<gapm::key_type>(c % 16), t, c * 4 + t);
    });
  for (auto& thread : threads) thread.join();
  for (gapm::key_type k = 0; k < 16; ++k) {
    const auto entry = directory.find(k);
    EXPECT_EQ(entry.counter % 4, entry.owner) << k;  // owner and counter from the same update
    EXPECT_GE(entry.counter, 4 * (10'000 - 16)) << k;
  }
}

INSTANTIATE_TEST_SUITE_P(SparseAndDense, HomeDirectory, ::testing::Bool());

TEST(LocationCache, RemembersGuessesAndForgetsOnCollisionOrClear) {
  location_cache cache(4);  // four entries
  EXPECT_EQ(cache.entries(), 4u);
  EXPECT_EQ(cache.get(3), -1);
  cache.put(3, 0);  // node 0 is a real guess
  EXPECT_EQ(cache.get(3), 0);
  cache.put(3, 5);
  EXPECT_EQ(cache.get(3), 5);
  cache.clear(3);
  EXPECT_EQ(cache.get(3), -1);

  // More keys than entries: every key reads its own guess or none, never another key's.
  for (gapm::key_type k = 0; k < 100; ++k) cache.put(k, static_cast<int>(k % 7));
  int remembered = 0;
  for (gapm::key_type k = 0; k < 100; ++k) {
    const int node = cache.get(k);
    if (node >= 0) {
      EXPECT_EQ(node, static_cast<int>(k % 7)) << k;
      ++remembered;
    }
  }
  EXPECT_GT(remembered, 0);
  EXPECT_LE(remembered, 4);
}

TEST(LocationCache, ItsSizeIsBoundedWhateverTheKeySpace) {
  EXPECT_EQ(location_cache(std::uint64_t{1} << 40).entries(), location_cache::max_entries);
  EXPECT_EQ(location_cache(1000).entries(), 1024u);
}

}  // namespace
