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

// The runtime tells pinned host memory (gapm's host side of device copies, and the user's
// cudaHostAlloc'd buffers) from pageable and device memory, as the device store's bounces need.
TEST(CudaRuntime, PinnedPageableAndDeviceMemoryAreToldApart) {
  const gapm::detail::device_platform* platform = gapm::detail::active_device_platform();
  if (platform == nullptr) GTEST_SKIP() << "no CUDA device is visible";
  gapm::detail::device_runtime& rt = platform->runtime;
  std::vector<float> pageable(16);
  void* pinned = rt.allocate_pinned(4096);
  float* on_device = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&on_device), 64), cudaSuccess);
  EXPECT_FALSE(rt.is_pinned(pageable.data()));
  EXPECT_TRUE(rt.is_pinned(pinned));
  EXPECT_TRUE(rt.is_pinned(static_cast<char*>(pinned) + 4095));
  EXPECT_FALSE(rt.is_pinned(on_device));
  EXPECT_EQ(rt.space_of(pinned), gapm::detail::memory_space::host);
  EXPECT_EQ(rt.space_of(on_device), gapm::detail::memory_space::device);
  EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess) << "asking left an error behind";
  rt.free_pinned(pinned);
  cudaFree(on_device);
}

}  // namespace
