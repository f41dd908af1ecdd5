// The device store against the CPU oracle, on whatever device platform the binary links:
// built twice, as test_device_store (the host emulation: runs in CPU-only CI) and, in the CUDA
// build, as test_device_store_gpu (a real GPU; skips with the reason when none is visible).
// The same random inputs (seed printed) go through both stores: exact for int64 and for
// double sums of small integers, a stated tolerance for float.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <random>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include <gapm/gapm.hpp>

#include "cuda/device_platform.hpp"
#include "cuda/device_store.hpp"
#include "host/store/cpu_store.hpp"

namespace {

using gapm::key_type;
using namespace gapm::detail;

const device_platform* platform_or_skip_reason(std::string& reason) {
  const device_platform* platform = active_device_platform();
  if (platform == nullptr) reason = "no CUDA device is visible: the GPU kernels cannot run here";
  return platform;
}

#define GAPM_NEED_DEVICE(platform)                                        \
  std::string skip_reason;                                                \
  const device_platform* platform = platform_or_skip_reason(skip_reason); \
  if (platform == nullptr) GTEST_SKIP() << skip_reason

template <class T>
void expect_same(const std::vector<T>& device, const std::vector<T>& cpu, const char* what) {
  ASSERT_EQ(device.size(), cpu.size());
  for (std::size_t i = 0; i < device.size(); ++i) {
    if constexpr (std::is_same_v<T, float>) {
      // float atomics add in any order: allow rounding differences of a few ulps of the sums.
      ASSERT_NEAR(device[i], cpu[i], 1e-3 * (1 + std::abs(cpu[i]))) << what << " at " << i;
    } else {
      ASSERT_EQ(device[i], cpu[i]) << what << " at " << i;
    }
  }
}

template <class T>
class DeviceStoreVsOracle : public ::testing::Test {};
using value_types = ::testing::Types<std::int64_t, double, float>;
TYPED_TEST_SUITE(DeviceStoreVsOracle, value_types);

TYPED_TEST(DeviceStoreVsOracle, RandomOperationsMatchExactly) {
  using T = TypeParam;
  GAPM_NEED_DEVICE(platform);
  const std::uint64_t seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  std::mt19937_64 rng(seed);
  for (std::uint32_t row : {1u, 3u, 8u, 64u, 130u}) {
    constexpr std::uint64_t num_keys = 2000, first = 500, capacity = 1500;
    cpu_store<T> cpu(first, num_keys, row, capacity);
    auto device = make_device_store<T>(*platform, 0, first, num_keys, row, capacity, 0.5, true);
    std::uniform_int_distribution<int> small(-50, 50);
    // Distinct keys: the first 1200 of a shuffled table are present, the rest wait to replace
    // the ones erased.
    std::vector<key_type> all(num_keys);
    std::iota(all.begin(), all.end(), first);
    std::shuffle(all.begin(), all.end(), rng);
    std::vector<key_type> present(all.begin(), all.begin() + 1200), absent(all.begin() + 1200, all.end());
    ASSERT_TRUE(cpu.insert(present.data(), present.size()));
    ASSERT_TRUE(device->insert(present.data(), present.size()));
    auto pick = [&](std::size_t n, bool distinct) {
      std::vector<key_type> keys(n);
      for (auto& k : keys) k = present[rng() % present.size()];  // repeats included
      if (distinct) {
        std::sort(keys.begin(), keys.end());
        keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
      }
      return keys;
    };
    auto values = [&](std::size_t n) {
      std::vector<T> v(n * row);
      for (auto& x : v) x = static_cast<T>(small(rng));
      return v;
    };
    for (int step = 0; step < 40; ++step) {
      const std::size_t n = 1 + rng() % 700;
      switch (rng() % 6) {
        case 0: {
          auto keys = pick(n, false);
          auto d = values(n);
          cpu.scatter_add(keys.data(), n, d.data(), {});
          device->scatter_add(keys.data(), n, d.data(), {});
          break;
        }
        case 1: {  // assign needs distinct keys
          auto keys = pick(n, true);
          auto v = values(keys.size());
          cpu.assign(keys.data(), keys.size(), v.data(), {});
          device->assign(keys.data(), keys.size(), v.data(), {});
          break;
        }
        case 2: {
          auto keys = pick(n, true);
          std::vector<delta_measure> mc(keys.size()), md(keys.size());  // read first: it takes nothing
          const bool with_norm = rng() % 2 == 0;
          cpu.measure_delta(keys.data(), keys.size(), mc.data(), with_norm, {});
          device->measure_delta(keys.data(), keys.size(), md.data(), with_norm, {});
          for (std::size_t i = 0; i < keys.size(); ++i)
            // Squares may round differently on a GPU (fused multiply-adds): compare closely.
            if (mc[i].changed != md[i].changed ||
                std::abs(mc[i].squares - md[i].squares) > 1e-12 * std::max(mc[i].squares, md[i].squares)) {
              ADD_FAILURE() << "measure_delta of key " << keys[i] << " differs";
              break;
            }
          std::vector<T> dc(keys.size() * row), dd(keys.size() * row);
          cpu.extract_delta(keys.data(), keys.size(), dc.data(), {});
          device->extract_delta(keys.data(), keys.size(), dd.data(), {});
          expect_same(dd, dc, "extract_delta");
          break;
        }
        case 3: {
          auto keys = pick(n, true);
          auto main = values(keys.size());
          cpu.refresh_merge(keys.data(), keys.size(), main.data(), {});
          device->refresh_merge(keys.data(), keys.size(), main.data(), {});
          break;
        }
        case 4: {  // SGD: exact for every type with integer-valued gradients and lr 1
          auto keys = pick(n, true);
          auto grads = values(keys.size());
          const auto sgd = step_constants<T>::make({.kind = gapm::optimizer::sgd, .lr = 1});
          cpu.apply_step(keys.data(), keys.size(), grads.data(), sgd, {});
          device->apply_step(keys.data(), keys.size(), grads.data(), sgd, {});
          break;
        }
        default: {  // erase some keys and insert others: slots get reused
          std::shuffle(present.begin(), present.end(), rng);
          std::shuffle(absent.begin(), absent.end(), rng);
          cpu.erase(present.data(), 20);
          device->erase(present.data(), 20);
          std::swap_ranges(present.begin(), present.begin() + 20, absent.begin());
          ASSERT_TRUE(cpu.insert(present.data(), 20));
          ASSERT_TRUE(device->insert(present.data(), 20));
          break;
        }
      }
      std::vector<T> oc(present.size() * row), od(present.size() * row);
      cpu.gather(present.data(), present.size(), oc.data(), {});
      device->gather(present.data(), present.size(), od.data(), {});
      expect_same(od, oc, "gather");
    }
  }
}

TEST(DeviceStore, DefaultCapacityFitsTheBudgetTheKeysAndTheSlotRange) {
  constexpr std::size_t gib = std::size_t{1} << 30;
  // 1 GiB budget, 64-byte rows, 1 M keys: (1 GiB - 4 MB of index) / 64 slots, or half of it
  // with sync_state.
  const std::uint64_t plain = default_device_capacity(100'000'000, 64, false, 2 * gib, 0.5);
  EXPECT_EQ(plain, (gib - 100'000'000 * 4) / 64);
  EXPECT_EQ(default_device_capacity(100'000'000, 64, true, 2 * gib, 0.5), (gib - 100'000'000 * 4) / 128);
  EXPECT_EQ(default_device_capacity(1000, 64, true, 2 * gib, 0.5), 1000u) << "never more than one slot per key";
  EXPECT_EQ(default_device_capacity(1000, 64, true, 1000, 0.5), 0u) << "no room beside the index";
  // Terabytes of memory and tiny rows: the slot index (int32) bounds the pool.
  EXPECT_EQ(default_device_capacity(std::uint64_t{1} << 40, 4, false, std::size_t{1} << 50, 1.0),
            static_cast<std::uint64_t>(INT32_MAX));
}

TEST(DeviceStore, AReplicaNodesSyncStateIsThereFromTheStartAndOtherwiseRefused) {
  GAPM_NEED_DEVICE(platform);
  constexpr std::uint32_t row = 4;
  const key_type keys[] = {1, 2, 3};
  std::vector<double> deltas(3 * row);
  auto with = make_device_store<double>(*platform, 0, 0, 100, row, 50, 0.5, true);
  ASSERT_TRUE(with->insert(keys, 3));
  with->extract_delta(keys, 3, deltas.data(), {});  // no allocation mid-training: it exists
  auto without = make_device_store<double>(*platform, 0, 0, 100, row, 50, 0.5, false);
  ASSERT_TRUE(without->insert(keys, 3));
  EXPECT_THROW(without->extract_delta(keys, 3, deltas.data(), {}), gapm::logic_error);
}

// Device memory through the runtime of the platform, freed with the test.
template <class T>
struct device_array {
  device_runtime& runtime;
  T* data;
  device_array(device_runtime& rt, std::size_t n)
      : runtime{rt}, data{static_cast<T*>(rt.allocate(std::max<std::size_t>(n, 1) * sizeof(T), nullptr))} {
    runtime.synchronize(nullptr);
  }
  ~device_array() {
    runtime.deallocate(data, nullptr);
    runtime.synchronize(nullptr);
  }
  void upload(const std::vector<T>& from) {
    runtime.copy(data, from.data(), from.size() * sizeof(T), nullptr);
    runtime.synchronize(nullptr);
  }
  std::vector<T> download(std::size_t n) {
    std::vector<T> to(n);
    runtime.copy(to.data(), data, n * sizeof(T), nullptr);
    runtime.synchronize(nullptr);
    return to;
  }
};

// The worker API with device buffers: keys, rows and results all in device memory, compared
// with the same operations through a CPU-store node.
TEST(DeviceNode, DeviceBuffersThroughTheWorkerApiMatchTheCpuNode) {
  GAPM_NEED_DEVICE(platform);
  const std::uint64_t seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  std::mt19937_64 rng(seed);
  gapm::Options o;
  o.tables = {{3000, 16}, {500, 3}};
  o.store = gapm::store_kind::cuda;
  gapm::Node<std::int64_t> device_node(o);
  o.store = gapm::store_kind::cpu;
  gapm::Node<std::int64_t> cpu_node(o);
  ASSERT_EQ(device_node.store_name(), "cuda");
  gapm::Worker<std::int64_t> dw(device_node, 0), cw(cpu_node, 0);
  device_runtime& rt = platform->runtime;

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
    device_array<key_type> dkeys(rt, n);
    device_array<std::int64_t> ddeltas(rt, values), dout(rt, values);
    dkeys.upload(keys);
    ddeltas.upload(deltas);

    if (step % 2 == 0) {
      dw.push(dkeys.data, n, ddeltas.data);
      dw.pull(dkeys.data, n, dout.data);
    } else {  // the span overloads check lengths without reading device keys on the host
      dw.push(std::span<const key_type>(dkeys.data, n), std::span<const std::int64_t>(ddeltas.data, values));
      dw.pull(std::span<const key_type>(dkeys.data, n), std::span<std::int64_t>(dout.data, values));
      EXPECT_THROW(dw.pull(std::span<const key_type>(dkeys.data, n), std::span<std::int64_t>(dout.data, values - 1)),
                   gapm::logic_error);
    }
    cw.push(keys.data(), n, deltas.data());
    std::vector<std::int64_t> from_cpu(values);
    cw.pull(keys.data(), n, from_cpu.data());
    ASSERT_EQ(dout.download(values), from_cpu) << "step " << step;
  }
}

// gapm switches to its node's device for its own work and back: the caller's thread is left
// on the device it chose.
TEST(DeviceNode, TheCallersCurrentDeviceIsLeftAsItWas) {
  GAPM_NEED_DEVICE(platform);
  device_runtime& rt = platform->runtime;
  if (rt.device_count() < 2) GTEST_SKIP() << "needs two devices (the emulated test sets EMULATED_GPU_COUNT=2)";
  rt.set_device(1);
  gapm::Options o;
  o.tables = {{100, 4}};
  o.store = gapm::store_kind::cuda;
  {
    gapm::Node<float> node(o);  // LOCAL_RANK unset: device 0
    EXPECT_EQ(rt.current_device(), 1);
    gapm::Worker<float> w(node, 0);
    const key_type keys[] = {3, 7};
    std::vector<float> rows(8, 1.5f);
    w.push(keys, 2, rows.data());
    w.pull(keys, 2, rows.data());
    EXPECT_EQ(rows[0], 1.5f);
    EXPECT_EQ(rt.current_device(), 1) << "a call left the thread on the node's device";
    w.finalize();
  }
  EXPECT_EQ(rt.current_device(), 1) << "the node's end left the thread on its device";
  rt.set_device(0);
}

}  // namespace
