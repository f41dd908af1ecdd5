// slot_index and flat_key_map: home keys at computed slots with a presence bit, the other keys
// through a flat map, all-or-nothing inserts, retired slots, and memory that follows the keys
// held rather than the table.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <unordered_map>
#include <vector>

#include "host/common/flat_key_map.hpp"
#include "host/store/slot_index.hpp"

namespace {

using namespace gapm::detail;
using gapm::key_type;

bool insert(slot_index& index, std::vector<key_type> keys) {
  std::vector<key_type> added_keys;
  std::vector<slot_type> added_slots;
  return index.insert(keys.data(), keys.size(), added_keys, added_slots);
}

TEST(SlotIndex, HomeKeysOwnTheFirstSlotsInKeyOrder) {
  for (std::uint64_t stride : {1u, 3u, 4u}) {  // power of two or not
    // Keys [10, 40), this node home for k % stride == 1.
    slot_index index(10, 30, 30, {.stride = stride, .residue = 1 % stride});
    std::vector<key_type> home;
    for (key_type k = 10; k < 40; ++k)
      if (k % stride == 1 % stride) home.push_back(k);
    EXPECT_EQ(index.home_slots(), home.size()) << stride;
    for (key_type k : home) EXPECT_EQ(index.slot_of(k), no_slot) << "not inserted yet";
    ASSERT_TRUE(insert(index, home));
    for (std::size_t i = 0; i < home.size(); ++i) {
      EXPECT_TRUE(index.is_home(home[i]));
      EXPECT_EQ(index.slot_of(home[i]), static_cast<std::int64_t>(i)) << "stride " << stride;
    }
    EXPECT_EQ(index.size(), home.size());
  }
}

TEST(SlotIndex, HomeSlotsAreExactForLargeKeysAndStridesThatAreNoPowerOfTwo) {
  const key_type first = (key_type{1} << 48) - 5000;  // the largest keys it takes
  for (std::uint64_t stride : {3u, 7u, 65535u}) {
    slot_index index(first, 5000, 5000, {.stride = stride, .residue = stride - 1});
    std::vector<key_type> home;
    for (key_type k = first; k < first + 5000; ++k)
      if (k % stride == stride - 1) home.push_back(k);
    ASSERT_TRUE(insert(index, home));
    for (std::size_t i = 0; i < home.size(); ++i) ASSERT_EQ(index.slot_of(home[i]), static_cast<std::int64_t>(i));
    for (key_type k = first; k < first + 5000; ++k) ASSERT_EQ(index.is_home(k), k % stride == stride - 1) << k;
  }
}

TEST(SlotIndex, AHomeKeyThatLeavesKeepsItsSlotAndOtherKeysTakeTheRest) {
  slot_index index(0, 20, 12, {.stride = 2, .residue = 0});  // 10 home keys, 2 slots to spare
  std::vector<key_type> home;
  for (key_type k = 0; k < 20; k += 2) home.push_back(k);
  ASSERT_TRUE(insert(index, home));
  EXPECT_EQ(index.free_slots(), 2u);
  EXPECT_EQ(index.erase(4), 2);  // home key 4 leaves ...
  EXPECT_EQ(index.slot_of(4), no_slot);
  EXPECT_EQ(index.free_slots(), 2u);  // ... and its slot stays reserved
  ASSERT_TRUE(insert(index, {5, 7}));
  EXPECT_GE(index.slot_of(5), 10);
  EXPECT_GE(index.slot_of(7), 10);
  EXPECT_NE(index.slot_of(5), index.slot_of(7));
  EXPECT_EQ(index.free_slots(), 0u);
  EXPECT_FALSE(insert(index, {9}));  // the pool is full for keys homed elsewhere
  EXPECT_EQ(index.slot_of(9), no_slot);
  ASSERT_TRUE(insert(index, {4}));  // a home key always fits: its slot is its own
  EXPECT_EQ(index.slot_of(4), 2);
  EXPECT_EQ(index.size(), 12u);
  EXPECT_EQ(index.keys(), (std::vector<key_type>{0, 2, 4, 5, 6, 7, 8, 10, 12, 14, 16, 18}));
}

TEST(SlotIndex, InsertsAreAllOrNothing) {
  slot_index index(0, 100, 3, {});  // no home keys: a pool of three slots
  ASSERT_TRUE(insert(index, {1, 2}));
  EXPECT_FALSE(insert(index, {3, 4, 3}));  // two new keys, one free slot
  EXPECT_EQ(index.slot_of(3), no_slot);
  EXPECT_EQ(index.slot_of(4), no_slot);
  EXPECT_EQ(index.size(), 2u);
  EXPECT_TRUE(insert(index, {3, 3, 1}));  // repeated and present keys take nothing more
  EXPECT_EQ(index.size(), 3u);
}

TEST(SlotIndex, TablesOfMoreThan2To32KeysKeepFullKeysForTheOthers) {
  const key_type first = key_type{1} << 40;
  slot_index index(first, std::uint64_t{1} << 33, 4, {});  // no home keys here
  const key_type far = first + (key_type{1} << 32) + 5;      // its offset needs 33 bits
  ASSERT_TRUE(insert(index, {first + 5, far}));
  EXPECT_NE(index.slot_of(first + 5), index.slot_of(far));
  EXPECT_GE(index.slot_of(far), 0);
  EXPECT_EQ(index.keys(), (std::vector<key_type>{first + 5, far}));
  EXPECT_GE(index.erase(far), 0);
  EXPECT_EQ(index.slot_of(far), no_slot);
  EXPECT_GE(index.slot_of(first + 5), 0);
}

TEST(SlotIndex, LongRowsGetADenseArrayForTheOtherKeysThatBehavesTheSame) {
  // 1,000 keys on 2 nodes with rows of 128 bytes: 4 KB of array against 64 KB of home rows.
  slot_index index(0, 1000, 600, {.stride = 2, .residue = 0}, /*row_bytes=*/128);
  std::vector<key_type> home;
  for (key_type k = 0; k < 1000; k += 2) home.push_back(k);
  ASSERT_TRUE(insert(index, home));
  ASSERT_TRUE(insert(index, {1, 3, 999}));
  EXPECT_GE(index.slot_of(999), 500);
  EXPECT_EQ(index.slot_of(5), no_slot);
  EXPECT_EQ(index.free_slots(), 97u);
  const std::int64_t slot = index.erase(3);
  EXPECT_GE(slot, 500);
  EXPECT_EQ(index.slot_of(3), no_slot);
  ASSERT_TRUE(insert(index, {7}));
  EXPECT_EQ(index.slot_of(7), slot);  // the freed slot, reused
  const auto keys = index.keys();
  EXPECT_EQ(keys.size(), 503u);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
}

TEST(SlotIndex, ARetiredSlotIsTakenOnlyWhenReleased) {
  slot_index index(0, 10, 6, {.stride = 2, .residue = 1});  // 5 home keys, 1 spare
  ASSERT_TRUE(insert(index, {1, 3, 5, 7, 9, 0}));
  const std::int64_t foreign = index.retire(0);
  const std::int64_t home = index.retire(3);
  EXPECT_EQ(home, 1);
  EXPECT_EQ(index.slot_of(0), no_slot);
  EXPECT_EQ(index.size(), 6u);  // both still used
  EXPECT_FALSE(insert(index, {2}));
  index.release(static_cast<slot_type>(foreign));
  index.release(static_cast<slot_type>(home));
  EXPECT_EQ(index.size(), 4u);
  ASSERT_TRUE(insert(index, {2, 3}));
  EXPECT_EQ(index.slot_of(2), foreign);  // the freed slot, reused
  EXPECT_EQ(index.slot_of(3), 1);
}

TEST(SlotIndex, ATooSmallCapacityForTheHomeKeysIsNamed) {
  try {
    slot_index index(0, 100, 10, {.stride = 1, .residue = 0});
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("needs 100 row slots for its home keys"), std::string::npos) << e.what();
  }
}

TEST(FlatKeyMap, AgreesWithAStandardMapUnderRandomPutsAndErases) {
  flat_key_map<std::int32_t> map;
  std::unordered_map<key_type, std::int32_t> oracle;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 200'000; ++step) {
    const key_type key = rng() % 5'000;  // dense collisions and long probe runs
    if (rng() % 3 == 0) {
      const auto it = oracle.find(key);
      const auto erased = map.erase(key);
      EXPECT_EQ(erased.has_value(), it != oracle.end());
      if (erased && it != oracle.end()) {
        EXPECT_EQ(*erased, it->second);
      }
      if (it != oracle.end()) oracle.erase(it);
    } else {
      const auto slot = static_cast<std::int32_t>(rng() % 1'000'000);
      map.put(key, slot);
      oracle[key] = slot;
    }
  }
  EXPECT_EQ(map.size(), oracle.size());
  for (key_type key = 0; key < 5'000; ++key) {
    const auto it = oracle.find(key);
    const std::int32_t* found = map.find(key);
    ASSERT_EQ(found != nullptr, it != oracle.end()) << key;
    if (found != nullptr) {
      ASSERT_EQ(*found, it->second) << key;
    }
  }
}

}  // namespace
