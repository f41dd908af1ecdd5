// Gather (pull), scatter-add (push) and the fused AdaGrad step throughput of the store
// backends over row lengths of 8..512 values and two batch sizes, against a plain copy of the
// same bytes in the same run (memcpy on the CPU, a device-to-device copy on the GPU).
//
//   ./bench_kernels [--benchmark_filter=cpu] [--benchmark_min_time=0.2]
//
// Keys are drawn uniformly from a table four times larger than the batch (at most 256 MiB of
// rows), so rows are scattered as in embedding lookups. Bytes counted: the rows moved.
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

enum class kernel { gather, scatter_add, adagrad };

// The AdaGrad step on rows [param | sum of g²]: distinct keys (a step's precondition).
std::vector<key_type> distinct(std::vector<key_type> keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

const auto adagrad = gapm::detail::step_constants<value>::make({.kind = gapm::optimizer::adagrad, .lr = 0.01});

void cpu_kernel(benchmark::State& state, std::uint32_t row, std::size_t batch, kernel op) {
  auto w = make_workload(row, batch);
  gapm::detail::cpu_store<value> store(0, w.table_keys, row, w.table_keys);
  auto keys = all_keys(w.table_keys);
  store.insert(keys.data(), keys.size());
  const auto step_keys = distinct(w.keys);
  std::vector<value> rows(batch * row, 0.5f);
  for (auto _ : state) {
    if (op == kernel::gather) store.gather(w.keys.data(), batch, rows.data(), {});
    else if (op == kernel::scatter_add) store.scatter_add(w.keys.data(), batch, rows.data(), {});
    else store.apply_step(step_keys.data(), step_keys.size(), rows.data(), adagrad, {});
    benchmark::DoNotOptimize(rows.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state, op == kernel::adagrad ? step_keys.size() : batch, row);
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
  auto store = gapm::detail::make_device_store<value>(platform, 0, 0, w.table_keys, row, w.table_keys, 0.5, false);
  auto keys = all_keys(w.table_keys);
  store->insert(keys.data(), keys.size());
  const auto step_keys = distinct(w.keys);
  const std::size_t n = op == kernel::adagrad ? step_keys.size() : batch;
  cudaStream_t stream;
  cudaStreamCreate(&stream);
  {
    gapm::detail::device_buffer<key_type> dkeys(platform.runtime, n, stream);
    gapm::detail::device_buffer<value> rows(platform.runtime, n * row, stream);
    cudaMemcpyAsync(dkeys.data(), (op == kernel::adagrad ? step_keys : w.keys).data(), n * sizeof(key_type),
                    cudaMemcpyHostToDevice, stream);
    cudaMemsetAsync(rows.data(), 0, n * row * sizeof(value), stream);
    const gapm::stream_view view{static_cast<void*>(stream)};
    time_on_gpu(state, stream, [&] {
      if (op == kernel::gather) store->gather(dkeys.data(), n, rows.data(), view);
      else if (op == kernel::scatter_add) store->scatter_add(dkeys.data(), n, rows.data(), view);
      else store->apply_step(dkeys.data(), n, rows.data(), adagrad, view);
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
#if GAPM_WITH_CUDA
      if (gapm::detail::active_device_platform() != nullptr) {
        benchmark::RegisterBenchmark(("copy/gpu" + suffix).c_str(), gpu_copy, row, batch)->UseManualTime();
        for (auto [name, op] : {std::pair{"gather", kernel::gather}, std::pair{"scatter_add", kernel::scatter_add},
                                std::pair{"adagrad", kernel::adagrad}})
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
