// Many worker threads push to the same keys concurrently: with int64 values the final state
// must equal the sum of all pushes exactly.
#include <gapm/gapm.hpp>

#include <atomic>
#include <cstdint>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

using gapm::key_type;

TEST(SingleNodeStress, ConcurrentPushesLoseNoUpdate) {
  constexpr int workers = 8;
  constexpr int iterations = 4000;
  constexpr std::uint64_t num_keys = 64;  // few keys: heavy contention on each
  constexpr std::uint32_t row = 5;
  gapm::Options o;
  o.tables = {{num_keys, row}};
  o.workers = workers;
  gapm::Node<std::int64_t> node(o);

  const std::uint64_t seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  // expected[w] is what worker w pushed, summed per key and value.
  std::vector<std::vector<std::int64_t>> expected(workers, std::vector<std::int64_t>(num_keys * row, 0));
  std::atomic<std::uint64_t> keys_pushed{0};
  std::vector<std::thread> threads;
  for (int id = 0; id < workers; ++id)
    threads.emplace_back([&, id] {
      gapm::Worker<std::int64_t> w(node, id);
      std::mt19937_64 rng(seed + static_cast<std::uint64_t>(id));
      std::uniform_int_distribution<key_type> key(0, num_keys - 1);
      std::uniform_int_distribution<std::int64_t> delta(-1000, 1000);
      std::vector<key_type> keys;
      std::vector<std::int64_t> deltas, pulled;
      for (int it = 0; it < iterations; ++it) {
        const std::size_t n = 1 + rng() % 16;  // repeated keys happen and must add up
        keys.resize(n);
        deltas.resize(n * row);
        for (auto& k : keys) k = key(rng);
        for (auto& d : deltas) d = delta(rng);
        w.push(keys.data(), n, deltas.data());
        keys_pushed += n;
        for (std::size_t i = 0; i < n; ++i)
          for (std::uint32_t j = 0; j < row; ++j) expected[id][keys[i] * row + j] += deltas[i * row + j];
        pulled.resize(n * row);
        w.pull(keys.data(), n, pulled.data());  // interleaved reads must not disturb writes
        w.advance_clock();
      }
      w.barrier();
    });
  for (auto& t : threads) t.join();

  gapm::Worker<std::int64_t> reader(node, 0);
  std::vector<key_type> all(num_keys);
  for (key_type k = 0; k < num_keys; ++k) all[k] = k;
  std::vector<std::int64_t> final_values(num_keys * row);
  reader.pull(all.data(), all.size(), final_values.data());
  for (std::size_t v = 0; v < final_values.size(); ++v) {
    std::int64_t sum = 0;
    for (int id = 0; id < workers; ++id) sum += expected[id][v];
    ASSERT_EQ(final_values[v], sum) << "key " << v / row << " value " << v % row;
  }
  // Every key was served locally and counted once: the pulls mirror the pushes, plus the reader.
  EXPECT_EQ(node.stats().pushes_local, keys_pushed.load());
  EXPECT_EQ(node.stats().pulls_local, keys_pushed.load() + num_keys);
  EXPECT_EQ(node.stats().pushes_remote + node.stats().pulls_remote, 0u);
}

}  // namespace
