// The CUDA store against the CPU oracle: the same random inputs (seed printed) through both,
// exact comparison for int64 and double sums of small integers, a stated tolerance for float.
#include <cstdint>
#include <iostream>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "cuda/cuda_store.hpp"
#include "host/store/cpu_store.hpp"

namespace {

using gapm::key_type;
using namespace gapm::detail;

template <class T>
class CudaStoreVsOracle : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the GPU kernels cannot run here";
  }
};

using value_types = ::testing::Types<std::int64_t, double, float>;
TYPED_TEST_SUITE(CudaStoreVsOracle, value_types);

template <class T>
void expect_same(const std::vector<T>& gpu, const std::vector<T>& cpu, const char* what) {
  ASSERT_EQ(gpu.size(), cpu.size());
  for (std::size_t i = 0; i < gpu.size(); ++i) {
    if constexpr (std::is_same_v<T, float>) {
      // float atomics add in any order: allow rounding differences of a few ulps of the sums.
      ASSERT_NEAR(gpu[i], cpu[i], 1e-3 * (1 + std::abs(cpu[i]))) << what << " at " << i;
    } else {
      ASSERT_EQ(gpu[i], cpu[i]) << what << " at " << i;
    }
  }
}

TYPED_TEST(CudaStoreVsOracle, RandomOperationsMatchExactly) {
  using T = TypeParam;
  const std::uint64_t seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  std::mt19937_64 rng(seed);
  for (std::uint32_t row : {1u, 3u, 8u, 64u, 130u}) {
    constexpr std::uint64_t num_keys = 2000, first = 500, capacity = 1500;
    cpu_store<T> cpu(first, num_keys, row, capacity);
    auto gpu = make_cuda_store<T>(first, num_keys, row, capacity, 0.5, 0);
    std::uniform_int_distribution<key_type> key(first, first + num_keys - 1);
    std::uniform_int_distribution<int> small(-50, 50);

    std::vector<key_type> present(1200);
    for (auto& k : present) k = key(rng);
    ASSERT_TRUE(cpu.insert(present.data(), present.size()));
    ASSERT_TRUE(gpu->insert(present.data(), present.size()));
    auto pick = [&](std::size_t n) {
      std::vector<key_type> keys(n);
      for (auto& k : keys) k = present[rng() % present.size()];  // repeats included
      return keys;
    };
    auto values = [&](std::size_t n) {
      std::vector<T> v(n * row);
      for (auto& x : v) x = static_cast<T>(small(rng));
      return v;
    };
    for (int step = 0; step < 40; ++step) {
      const std::size_t n = 1 + rng() % 700;
      auto keys = pick(n);
      switch (rng() % 5) {
        case 0: {
          auto d = values(n);
          cpu.scatter_add(keys.data(), n, d.data(), {});
          gpu->scatter_add(keys.data(), n, d.data(), {});
          break;
        }
        case 1: {  // assign needs distinct keys
          std::sort(keys.begin(), keys.end());
          keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
          auto v = values(keys.size());
          cpu.assign(keys.data(), keys.size(), v.data(), {});
          gpu->assign(keys.data(), keys.size(), v.data(), {});
          break;
        }
        case 2: {
          std::sort(keys.begin(), keys.end());
          keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
          std::vector<T> dc(keys.size() * row), dg(keys.size() * row);
          cpu.extract_delta(keys.data(), keys.size(), dc.data(), {});
          gpu->extract_delta(keys.data(), keys.size(), dg.data(), {});
          expect_same(dg, dc, "extract_delta");
          break;
        }
        case 3: {
          std::sort(keys.begin(), keys.end());
          keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
          auto main = values(keys.size());
          cpu.refresh_merge(keys.data(), keys.size(), main.data(), {});
          gpu->refresh_merge(keys.data(), keys.size(), main.data(), {});
          break;
        }
        default: {  // erase some keys and insert others: slots get reused
          std::vector<key_type> gone(present.begin(), present.begin() + 20);
          cpu.erase(gone.data(), gone.size());
          gpu->erase(gone.data(), gone.size());
          for (std::size_t i = 0; i < 20; ++i) present[i] = key(rng);
          ASSERT_EQ(cpu.insert(present.data(), 20), gpu->insert(present.data(), 20));
          break;
        }
      }
      auto all = present;
      std::vector<T> oc(all.size() * row), og(all.size() * row);
      cpu.gather(all.data(), all.size(), oc.data(), {});
      gpu->gather(all.data(), all.size(), og.data(), {});
      expect_same(og, oc, "gather");
    }
  }
}

}  // namespace

// The worker API with device buffers: keys, rows and results all in device memory, compared
// with the same operations through a CPU-store node.
#include <gapm/gapm.hpp>
#include <cuda_runtime_api.h>

namespace {

TEST(CudaNode, DeviceBuffersThroughTheWorkerApiMatchTheCpuNode) {
  if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the GPU kernels cannot run here";
  const std::uint64_t seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  std::mt19937_64 rng(seed);
  gapm::Options o;
  o.tables = {{3000, 16}, {500, 3}};
  o.store = gapm::store_kind::cuda;
  gapm::Node<std::int64_t> gpu_node(o);
  o.store = gapm::store_kind::cpu;
  gapm::Node<std::int64_t> cpu_node(o);
  ASSERT_EQ(gpu_node.store_name(), "cuda");
  gapm::Worker<std::int64_t> gw(gpu_node, 0), cw(cpu_node, 0);

  for (int step = 0; step < 20; ++step) {
    const std::size_t n = 1 + rng() % 2000;
    std::vector<key_type> keys(n);
    std::size_t values = 0;
    for (auto& k : keys) {
      k = rng() % 3500;
      values += k < 3000 ? 16 : 3;
    }
    std::vector<std::int64_t> deltas(values);
    for (auto& d : deltas) d = static_cast<std::int64_t>(rng() % 1000) - 500;
    key_type* dkeys = nullptr;
    std::int64_t *ddeltas = nullptr, *dout = nullptr;
    ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&dkeys), n * sizeof(key_type)), cudaSuccess);
    ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&ddeltas), values * sizeof(std::int64_t)), cudaSuccess);
    ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&dout), values * sizeof(std::int64_t)), cudaSuccess);
    cudaMemcpy(dkeys, keys.data(), n * sizeof(key_type), cudaMemcpyHostToDevice);
    cudaMemcpy(ddeltas, deltas.data(), values * sizeof(std::int64_t), cudaMemcpyHostToDevice);

    gw.push(dkeys, n, ddeltas);
    cw.push(keys.data(), n, deltas.data());
    gw.pull(dkeys, n, dout);
    std::vector<std::int64_t> from_gpu(values), from_cpu(values);
    cw.pull(keys.data(), n, from_cpu.data());
    cudaMemcpy(from_gpu.data(), dout, values * sizeof(std::int64_t), cudaMemcpyDeviceToHost);
    ASSERT_EQ(from_gpu, from_cpu) << "step " << step;
    cudaFree(dkeys);
    cudaFree(ddeltas);
    cudaFree(dout);
  }
}

}  // namespace
