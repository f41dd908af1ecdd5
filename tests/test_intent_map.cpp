// intent_map against std::map on random merges and erases (seed printed).
#include "host/adaptive/intent_map.hpp"

#include <iostream>
#include <map>
#include <random>

#include <gtest/gtest.h>

namespace {

TEST(IntentMap, BehavesLikeAnOrderedMapUnderRandomChurn) {
  const auto seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  std::mt19937_64 rng(seed);
  gapm::detail::intent_map map;
  std::map<std::pair<gapm::key_type, int>, gapm::clock_type> oracle;
  for (int step = 0; step < 200000; ++step) {
    const gapm::key_type key = rng() % 3000;
    const int worker = static_cast<int>(rng() % 3);
    if (rng() % 3 == 0) {
      map.erase(key, worker);
      oracle.erase({key, worker});
    } else {
      const gapm::clock_type end = static_cast<gapm::clock_type>(rng() % 1000);
      map.merge(key, worker, end);
      auto [it, fresh] = oracle.emplace(std::pair{key, worker}, end);
      if (!fresh) it->second = std::max(it->second, end);
    }
    ASSERT_EQ(map.size(), oracle.size());
  }
  for (gapm::key_type key = 0; key < 3000; ++key)
    for (int worker = 0; worker < 3; ++worker) {
      auto it = oracle.find({key, worker});
      ASSERT_EQ(map.end_of(key, worker), it == oracle.end() ? -1 : it->second) << key << "/" << worker;
    }
}

}  // namespace
