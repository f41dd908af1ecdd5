// Replica churn: keys given a row and freed again, as replicas come and go with intents, in
// keys per second, one structure change per key against one per batch (what the sync
// channels do now: one per sync message). CPU store and, when the binary has a device
// platform, the device store.
//
//   ./bench_structure             this build's platform (the device part needs a GPU)
//   ./bench_structure_emulated    the emulated device: the host-side cost of a change (index
//                                 bookkeeping, enqueueing, stream retirement), not GPU time
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "cuda/device_platform.hpp"
#include "cuda/device_store.hpp"
#include "host/store/cpu_store.hpp"

namespace {

using gapm::key_type;
using namespace gapm::detail;

constexpr std::uint64_t table_keys = 1 << 20;
constexpr std::uint32_t row_length = 64;

std::unique_ptr<store_backend<float>> make(bool device) {
  if (device)
    return make_device_store<float>(*active_device_platform(), 0, 0, table_keys, row_length, table_keys / 4, 0.5, true);
  return std::make_unique<cpu_store<float>>(0, table_keys, row_length, table_keys / 4);
}

void churn(benchmark::State& state, bool device, bool batched) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  auto store = make(device);
  const key_type sentinel = table_keys - 1;  // stays: reading it waits for the changes' device work
  store->insert(&sentinel, 1);
  std::vector<key_type> keys(table_keys - 1);
  std::iota(keys.begin(), keys.end(), key_type{0});
  std::shuffle(keys.begin(), keys.end(), std::mt19937_64{7});
  std::size_t at = 0;
  std::vector<float> row(row_length);
  for (auto _ : state) {
    const key_type* some = keys.data() + at;
    at = (at + batch) % (keys.size() - batch);
    if (batched) {
      store->insert(some, batch);
      store->erase(some, batch);
    } else {
      for (std::size_t i = 0; i < batch; ++i) store->insert(some + i, 1);
      for (std::size_t i = 0; i < batch; ++i) store->erase(some + i, 1);
    }
  }
  store->gather(&sentinel, 1, row.data(), {});
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
}

void register_all() {
  for (bool device : {false, true}) {
    if (device && active_device_platform() == nullptr) continue;
    const std::string store = device ? std::string(active_device_platform()->runtime.name()) : "cpu";
    for (bool batched : {false, true})
      benchmark::RegisterBenchmark(("churn/" + store + (batched ? "/batched" : "/per_key")).c_str(), churn, device,
                                   batched)
          ->Arg(64)
          ->Arg(1024)
          ->Arg(16384)
          ->UseRealTime();  // the device work runs on other threads
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
