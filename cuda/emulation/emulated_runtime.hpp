// emulated_runtime: the device runtime emulated on the host, for tests only (users never get
// it: only test binaries link it). Device memory is host memory the runtime keeps track of;
// every stream is an ordered queue of tasks run by its own thread; events are generation
// counters. Copies, fills and kernels run as tasks, so work on different streams really runs
// concurrently and unordered: a missing stream dependency shows up as a wrong result, or as a
// report of the sanitizers, in CPU-only CI rather than on a user's GPU. With a jitter set,
// tasks start after random delays, which makes such races far more likely to show.
//
// Settings come from the environment (test processes started by the scenario tests inherit
// them): EMULATED_GPU_COUNT (1), EMULATED_GPU_MEMORY in bytes (8 GiB per device),
// EMULATED_GPU_JITTER_US (0: none), EMULATED_GPU_SEED (random; printed when jitter is on),
// EMULATED_GPU_STRICT (0; 1: with several devices, a call from a thread that chose none aborts
// the process: real CUDA would run it on GPU 0, in a context of its own; and so does a copy
// between device memory and pageable host memory: gapm keeps its host sides pinned). Pinned host
// memory is host memory the runtime keeps track of, as device memory is.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "cuda/device_runtime.hpp"

namespace gapm::detail {

class emulated_runtime final : public device_runtime {
 public:
  struct settings {
    int devices = 1;
    std::size_t memory_bytes = std::size_t{8} << 30;  // per device
    std::chrono::microseconds jitter{0};
    std::uint64_t seed = 0;
    bool strict = false;
  };
  [[nodiscard]] static settings settings_from_env();

  explicit emulated_runtime(settings given);
  ~emulated_runtime() override;

  [[nodiscard]] std::string_view name() const noexcept override { return "emulated"; }
  [[nodiscard]] int device_count() const noexcept override { return settings_.devices; }
  [[nodiscard]] int current_device() const override;
  void set_device(int device) override;
  /// The host's name and the device number: processes on one host share an emulated GPU when
  /// their local ranks pick the same one (EMULATED_GPU_COUNT).
  [[nodiscard]] std::string device_identity(int device) const override;
  [[nodiscard]] context current_context() const noexcept override;
  void restore_context(context saved) noexcept override;
  [[nodiscard]] bool is_thread_default(device_stream handle) const noexcept override {
    return handle == nullptr || handle == per_thread;
  }

  /// The handle that names the calling thread's default stream, like cudaStreamPerThread.
  static inline const device_stream per_thread = reinterpret_cast<device_stream>(std::uintptr_t{0x2});
  [[nodiscard]] memory_space space_of(const void* ptr) const noexcept override;
  [[nodiscard]] bool is_pinned(const void* ptr) const noexcept override;
  void memory_info(std::size_t& free_bytes, std::size_t& total_bytes) override;

  [[nodiscard]] void* allocate(std::size_t bytes, device_stream stream) override;
  void deallocate(void* ptr, device_stream stream) noexcept override;
  [[nodiscard]] void* allocate_pinned(std::size_t bytes) override;
  void free_pinned(void* ptr) noexcept override;
  void copy(void* dst, const void* src, std::size_t bytes, device_stream stream) override;
  void fill(void* dst, unsigned char byte, std::size_t bytes, device_stream stream) override;
  void host_task(device_stream stream, std::function<void()> task) override;

  [[nodiscard]] device_stream create_stream() override;
  void destroy_stream(device_stream stream) noexcept override;
  [[nodiscard]] device_event create_event() override;
  void destroy_event(device_event event) noexcept override;
  void record(device_event event, device_stream stream) override;
  void wait(device_stream stream, device_event event) override;
  [[nodiscard]] bool done(device_event event) override;
  void synchronize(device_stream stream) override;

  // For tests: device memory a test's own code allocates and frees at once (no stream).
  [[nodiscard]] void* allocate_now(std::size_t bytes);
  void free_now(void* ptr);
  /// Bytes of device memory in use on `device`.
  [[nodiscard]] std::size_t used_bytes(int device) const;
  /// The devices some thread has made current or done work on (as either creates a CUDA
  /// context there): a node's threads must keep to the node's device.
  [[nodiscard]] std::set<int> devices_used() const;
  /// Copies so far between device memory and pageable (not pinned) host memory.
  [[nodiscard]] std::uint64_t pageable_copies() const noexcept;

 private:
  class stream;
  stream& stream_of(device_stream handle);
  static thread_local std::unique_ptr<stream> thread_stream_;  // each thread's default stream
  static thread_local int thread_device_;  // -1: the thread never chose a device (no context)
  void release(void* ptr) noexcept;
  void note_use();  // the calling thread works on its current device
  void check_host_side(const void* dst, const void* src, std::size_t bytes);  // counts (strict: refuses) pageable

  const settings settings_;
  std::atomic<std::uint64_t> streams_made_{0};
  mutable std::mutex memory_mutex_;
  struct allocation {
    std::size_t bytes;
    int device;
  };
  std::map<std::uintptr_t, allocation> allocations_;  // by start address
  std::vector<std::size_t> used_;                     // bytes per device
  std::map<std::uintptr_t, std::size_t> pinned_;      // pinned host memory: start → bytes
  std::atomic<std::uint64_t> pageable_copies_{0};
  std::set<int> devices_used_;
};

/// The emulated device of this test process (the platform cuda/emulation/emulated_platform.cpp
/// links in).
[[nodiscard]] emulated_runtime& emulated_device();

}  // namespace gapm::detail
