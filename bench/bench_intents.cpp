// Host intent bookkeeping throughput: how many intent keys per second one node's pipeline
// absorbs — the worker's part (copy a batch, split it by channel) and
// the sync managers' part (register the due intents of each channel, then look each key up
// as a sync round does). Goal: >= 20 M intent keys/s per node, so that the host never holds
// back a GPU that trains at millions of keys per second.
//
// Everything runs on one thread here: the rate is what a single core sustains, and a node
// runs its channels on as many threads as sync.channels.
#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "host/adaptive/intent_table.hpp"

namespace {

using namespace gapm::detail;
using gapm::clock_type;
using gapm::key_type;

void intent_pipeline(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  const int channels = static_cast<int>(state.range(1));
  constexpr std::uint64_t num_keys = 10'000'000;
  std::mt19937_64 rng(42);
  std::vector<std::vector<key_type>> batches(64, std::vector<key_type>(batch));
  for (auto& b : batches)
    for (auto& k : b) k = rng() % num_keys;
  std::vector<intent_table> tables;
  for (int c = 0; c < channels; ++c) tables.emplace_back(1, action_timer(10, 0.1, 0.9999, true));

  clock_type clock = 0;
  std::vector<clock_type> clocks{0};
  std::size_t next = 0;
  std::uint64_t registered = 0;
  for (auto _ : state) {
    const auto& keys = batches[next++ % batches.size()];
    // Worker: intent for the batch 20 clocks ahead, one clock long, split by channel.
    auto parts = split_intent(keys.data(), keys.size(), clock + 20, clock + 21, channels);
    for (int c = 0; c < channels; ++c)
      if (parts[c].keys) tables[c].submit(0, std::move(parts[c]));
    // Sync managers: a round per clock; the intents become due and are looked up.
    clocks[0] = clock++;
    for (auto& table : tables)
      table.register_due([&] { return clocks; }, [&](key_type k) { registered += table.has_intent(k, clocks); });
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  state.counters["registered"] = static_cast<double>(registered);
}

BENCHMARK(intent_pipeline)->ArgsProduct({{100, 1000, 10000}, {1, 4}})->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
