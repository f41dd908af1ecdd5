// Gather (pull), scatter-add (push), the fused AdaGrad step and the replica sync's two row
// ops (measure_delta, which decides what travels, and extract_delta, which takes it) of the
// store backends over row lengths of 8..512 values and two batch sizes, against a plain copy
// of the same bytes in the same run (memcpy on the CPU, a device-to-device copy on the GPU).
//
//   ./bench_kernels [--benchmark_filter=cpu] [--benchmark_min_time=0.2]
//
// Keys are drawn uniformly from a table four times larger than the batch (at most 256 MiB of
// rows), so rows are scattered as in embedding lookups. Bytes counted: the rows moved (one row
// per key; the replica ops read a row and its sync_state).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "host/store/cpu_store.hpp"
#include "ratio_reporter.hpp"
#if GAPM_WITH_CUDA
#include <cuda_runtime_api.h>

#include "cuda/device_buffer.hpp"
#include "cuda/device_platform.hpp"
#include "cuda/device_store.hpp"
#endif

namespace {

using gapm::key_type;
using value = float;

constexpr std::uint32_t row_lengths[] = {8, 16, 32, 64, 128, 256, 512};
constexpr std::size_t batch_sizes[] = {4096, 65536};

struct workload {
  std::uint64_t table_keys;
  std::vector<key_type> keys;
};

workload make_workload(std::uint32_t row, std::size_t batch) {
  constexpr std::uint64_t max_table_bytes = 256ull << 20;
  const std::uint64_t table_keys = std::min<std::uint64_t>(4 * batch, max_table_bytes / (row * sizeof(value)));
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<key_type> pick(0, table_keys - 1);
  workload w{table_keys, std::vector<key_type>(batch)};
  for (auto& k : w.keys) k = pick(rng);
  return w;
}

std::vector<key_type> all_keys(std::uint64_t n) {
  std::vector<key_type> keys(n);
  for (key_type k = 0; k < n; ++k) keys[k] = k;
  return keys;
}

void set_bytes(benchmark::State& state, std::size_t batch, std::uint32_t row) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * batch * row * sizeof(value)));
}

// --- CPU -------------------------------------------------------------------------------

void cpu_copy(benchmark::State& state, std::uint32_t row, std::size_t batch) {
  std::vector<value> src(batch * row, 1.0f), dst(batch * row);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size() * sizeof(value));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state, batch, row);
}

// measure_delta: whether each delta changed (sync.threshold 0), over unchanged rows (read
// whole: the slowest case); measure_norm: with the squares (a positive threshold), over rows
// that all changed.
enum class kernel { gather, scatter_add, adagrad, measure_delta, measure_norm, extract_delta };

// Distinct keys: the precondition of a step and of the replica ops.
std::vector<key_type> distinct(std::vector<key_type> keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

const auto adagrad = gapm::detail::step_constants<value>::make({.kind = gapm::optimizer::adagrad, .lr = 0.01});

bool takes_distinct_keys(kernel op) { return op != kernel::gather && op != kernel::scatter_add; }
bool is_replica_op(kernel op) { return takes_distinct_keys(op) && op != kernel::adagrad; }  // needs sync_state

void cpu_kernel(benchmark::State& state, std::uint32_t row, std::size_t batch, kernel op) {
  auto w = make_workload(row, batch);
  gapm::detail::cpu_store<value> store(0, w.table_keys, row, w.table_keys);
  auto keys = all_keys(w.table_keys);
  store.insert(keys.data(), keys.size());
  const auto step_keys = distinct(w.keys);
  std::vector<value> rows(batch * row, 0.5f);
  std::vector<gapm::detail::delta_measure> measures(batch);
  if (is_replica_op(op))  // the replicas' sync_state exists, equal to their values
    store.extract_delta(step_keys.data(), step_keys.size(), rows.data(), {});
  if (op == kernel::measure_norm) {  // every row changes (the extraction above wrote zeros into `rows`)
    std::fill(rows.begin(), rows.end(), 0.5f);
    store.scatter_add(step_keys.data(), step_keys.size(), rows.data(), {});
  }
  for (auto _ : state) {
    switch (op) {
      case kernel::gather: store.gather(w.keys.data(), batch, rows.data(), {}); break;
      case kernel::scatter_add: store.scatter_add(w.keys.data(), batch, rows.data(), {}); break;
      case kernel::adagrad: store.apply_step(step_keys.data(), step_keys.size(), rows.data(), adagrad, {}); break;
      case kernel::measure_delta:
      case kernel::measure_norm:
        store.measure_delta(step_keys.data(), step_keys.size(), measures.data(), op == kernel::measure_norm, {});
        break;
      case kernel::extract_delta: store.extract_delta(step_keys.data(), step_keys.size(), rows.data(), {}); break;
    }
    benchmark::DoNotOptimize(rows.data());
    benchmark::DoNotOptimize(measures.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state, takes_distinct_keys(op) ? step_keys.size() : batch, row);
}

#if GAPM_WITH_CUDA
// --- GPU: device buffers only, timed with events on one stream -----------------------------

template <class Body>
void time_on_gpu(benchmark::State& state, cudaStream_t stream, Body body) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  body();  // warm-up
  for (auto _ : state) {
    cudaEventRecord(start, stream);
    body();
    cudaEventRecord(stop, stream);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(ms / 1e3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

void gpu_copy(benchmark::State& state, std::uint32_t row, std::size_t batch) {
  auto& rt = gapm::detail::active_device_platform()->runtime;
  cudaStream_t stream;
  cudaStreamCreate(&stream);
  {
    gapm::detail::device_buffer<value> src(rt, batch * row, stream), dst(rt, batch * row, stream);
    time_on_gpu(state, stream, [&] {
      cudaMemcpyAsync(dst.data(), src.data(), batch * row * sizeof(value), cudaMemcpyDeviceToDevice, stream);
    });
  }
  cudaStreamSynchronize(stream);
  cudaStreamDestroy(stream);
  set_bytes(state, batch, row);
}

void gpu_kernel(benchmark::State& state, std::uint32_t row, std::size_t batch, kernel op) {
  const auto& platform = *gapm::detail::active_device_platform();
  auto w = make_workload(row, batch);
  const bool replica_op = is_replica_op(op);
  auto store =
      gapm::detail::make_device_store<value>(platform, 0, 0, w.table_keys, row, w.table_keys, 0.5, replica_op);
  auto keys = all_keys(w.table_keys);
  store->insert(keys.data(), keys.size());
  const auto step_keys = distinct(w.keys);
  const std::size_t n = takes_distinct_keys(op) ? step_keys.size() : batch;
  cudaStream_t stream;
  cudaStreamCreate(&stream);
  {
    gapm::detail::device_buffer<key_type> dkeys(platform.runtime, n, stream);
    gapm::detail::device_buffer<value> rows(platform.runtime, n * row, stream);
    gapm::detail::device_buffer<gapm::detail::delta_measure> measures(platform.runtime, n, stream);
    cudaMemcpyAsync(dkeys.data(), (takes_distinct_keys(op) ? step_keys : w.keys).data(), n * sizeof(key_type),
                    cudaMemcpyHostToDevice, stream);
    const std::vector<value> halves(n * row, 0.5f);
    cudaMemcpyAsync(rows.data(), halves.data(), n * row * sizeof(value), cudaMemcpyHostToDevice, stream);
    const gapm::stream_view view{static_cast<void*>(stream)};
    if (replica_op) {  // as on the CPU: unchanged rows, or (measure_norm) rows that all changed
      gapm::detail::device_buffer<value> scratch(platform.runtime, n * row, stream);
      store->extract_delta(dkeys.data(), n, scratch.data(), view);
      if (op == kernel::measure_norm) store->scatter_add(dkeys.data(), n, rows.data(), view);
    }
    time_on_gpu(state, stream, [&] {
      switch (op) {
        case kernel::gather: store->gather(dkeys.data(), n, rows.data(), view); break;
        case kernel::scatter_add: store->scatter_add(dkeys.data(), n, rows.data(), view); break;
        case kernel::adagrad: store->apply_step(dkeys.data(), n, rows.data(), adagrad, view); break;
        case kernel::measure_delta:
        case kernel::measure_norm:
          store->measure_delta(dkeys.data(), n, measures.data(), op == kernel::measure_norm, view);
          break;
        case kernel::extract_delta: store->extract_delta(dkeys.data(), n, rows.data(), view); break;
      }
    });
  }
  cudaStreamSynchronize(stream);
  cudaStreamDestroy(stream);
  set_bytes(state, n, row);
}
#endif

void register_all() {
  for (std::uint32_t row : row_lengths)
    for (std::size_t batch : batch_sizes) {
      const std::string suffix = "/" + std::to_string(row) + "/" + std::to_string(batch);
      benchmark::RegisterBenchmark(("copy/cpu" + suffix).c_str(), cpu_copy, row, batch);
      benchmark::RegisterBenchmark(("gather/cpu" + suffix).c_str(), cpu_kernel, row, batch, kernel::gather);
      benchmark::RegisterBenchmark(("scatter_add/cpu" + suffix).c_str(), cpu_kernel, row, batch, kernel::scatter_add);
      benchmark::RegisterBenchmark(("adagrad/cpu" + suffix).c_str(), cpu_kernel, row, batch, kernel::adagrad);
      benchmark::RegisterBenchmark(("measure_delta/cpu" + suffix).c_str(), cpu_kernel, row, batch,
                                   kernel::measure_delta);
      benchmark::RegisterBenchmark(("measure_norm/cpu" + suffix).c_str(), cpu_kernel, row, batch,
                                   kernel::measure_norm);
      benchmark::RegisterBenchmark(("extract_delta/cpu" + suffix).c_str(), cpu_kernel, row, batch,
                                   kernel::extract_delta);
#if GAPM_WITH_CUDA
      if (gapm::detail::active_device_platform() != nullptr) {
        benchmark::RegisterBenchmark(("copy/gpu" + suffix).c_str(), gpu_copy, row, batch)->UseManualTime();
        for (auto [name, op] : {std::pair{"gather", kernel::gather}, std::pair{"scatter_add", kernel::scatter_add},
                                std::pair{"adagrad", kernel::adagrad}, std::pair{"measure_delta", kernel::measure_delta},
                                std::pair{"measure_norm", kernel::measure_norm},
                                std::pair{"extract_delta", kernel::extract_delta}})
          benchmark::RegisterBenchmark((std::string(name) + "/gpu" + suffix).c_str(), gpu_kernel, row, batch, op)
              ->UseManualTime();
      }
#endif
    }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  gapm::bench::ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
