// The CUDA runtime behind the device store, on a real GPU (CUDA build; skips with the reason
// when no GPU is visible): gapm leaves the caller's CUDA state alone, and its memory pool
// keeps what it frees.
#include <cstdint>
#include <vector>

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <gapm/gapm.hpp>

#include "cuda/device_platform.hpp"

namespace {

using gapm::key_type;

// A small table in the device store.
gapm::Options device_options() {
  gapm::Options o;
  o.tables = {{1000, 8}};
  o.store = gapm::store_kind::cuda;
  return o;
}

TEST(CudaRuntime, ACallersPendingErrorSurvivesGapmsCalls) {
  if (gapm::detail::active_device_platform() == nullptr) GTEST_SKIP() << "no CUDA device is visible";
  gapm::Node<float> node(device_options());
  gapm::Worker<float> w(node, 0);
  const key_type keys[] = {1, 2, 3};
  std::vector<float> rows(24, 1.0f);
  float* device_rows = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&device_rows), rows.size() * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaSetDevice(1 << 20), cudaErrorInvalidDevice);  // now pending for this thread
  w.push(keys, 3, rows.data());
  w.pull(keys, 3, device_rows);  // asks where both buffers live
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidDevice) << "gapm cleared the caller's pending error";
  (void)cudaGetLastError();
  cudaFree(device_rows);
  w.finalize();
}

// gapm keeps its own stream-ordered pool (which keeps freed memory); the device's default
// pool, which the user's cudaMallocAsync draws from, keeps the user's settings.
TEST(CudaRuntime, TheDevicesDefaultPoolKeepsTheUsersSettings) {
  if (gapm::detail::active_device_platform() == nullptr) GTEST_SKIP() << "no CUDA device is visible";
  int device = 0;
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  cudaMemPool_t pool = nullptr;
  ASSERT_EQ(cudaDeviceGetDefaultMemPool(&pool, device), cudaSuccess);
  std::uint64_t before = 0, after = 0;
  ASSERT_EQ(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &before), cudaSuccess);
  {
    gapm::Node<float> node(device_options());
    gapm::Worker<float> w(node, 0);
    const key_type keys[] = {1, 2, 3};
    std::vector<float> rows(24, 1.0f);
    w.push(keys, 3, rows.data());
    w.finalize();
  }
  ASSERT_EQ(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &after), cudaSuccess);
  EXPECT_EQ(after, before);
}

}  // namespace
