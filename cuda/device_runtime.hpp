// device_runtime: the few device-runtime calls the device store makes (memory, copies,
// streams, events, host tasks), behind one interface with two implementations: the CUDA
// runtime (cuda/cuda_runtime.cpp) and, for tests, a host emulation in which every stream is
// an ordered queue run by its own thread (cuda/emulation/). Everything above this interface
// (cuda/device_store.cpp, the launchers in cuda/row_launcher.hpp) is ordinary host code, so
// it runs in CPU-only CI against the emulation.
//
// Semantics follow the CUDA runtime: work on one stream runs in order; work on different
// streams is unordered unless an event says otherwise; a null stream is the calling
// thread's own default stream (cudaStreamPerThread), never the legacy stream.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "host/store/memory_space.hpp"

namespace gapm::detail {

using device_stream = void*;  ///< a cudaStream_t; null: the calling thread's default stream
using device_event = void*;   ///< a cudaEvent_t

class device_runtime {
 public:
  virtual ~device_runtime() = default;

  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  [[nodiscard]] virtual int device_count() const noexcept = 0;
  /// The calling thread's current device (0 when it has chosen none, as in CUDA).
  [[nodiscard]] virtual int current_device() const = 0;
  /// Makes `device` current for the calling thread (creating its context on first use).
  virtual void set_device(int device) = 0;

  /// What is current on the calling thread — a CUDA context, or none for a thread that never
  /// chose a device — so that restore_context() can put it back without making a context
  /// anywhere (restoring "device 0" would create one on GPU 0 in every process).
  using context = void*;
  [[nodiscard]] virtual context current_context() const noexcept = 0;
  virtual void restore_context(context saved) noexcept = 0;
  /// Whether `stream` is the calling thread's own default stream: null, or the runtime's
  /// per-thread handle passed explicitly.
  [[nodiscard]] virtual bool is_thread_default(device_stream stream) const noexcept = 0;
  /// Where `ptr` points. Never changes the caller's pending runtime error.
  [[nodiscard]] virtual memory_space space_of(const void* ptr) const noexcept = 0;
  /// Whether `ptr` points into page-locked host memory, which device copies reach by DMA,
  /// asynchronously (pageable memory goes through a bounce of the driver's, synchronously).
  [[nodiscard]] virtual bool is_pinned(const void* ptr) const noexcept = 0;
  /// What names `device` among all the job's GPUs: two processes that report the same one share
  /// a GPU (which NCCL refuses). CUDA: the GPU's UUID.
  [[nodiscard]] virtual std::string device_identity(int device) const = 0;
  /// Free and total memory of the current device.
  virtual void memory_info(std::size_t& free_bytes, std::size_t& total_bytes) = 0;

  /// Stream-ordered device memory: usable by work enqueued on `stream` after the call, freed
  /// once the work enqueued on `stream` before the deallocation has finished.
  [[nodiscard]] virtual void* allocate(std::size_t bytes, device_stream stream) = 0;
  virtual void deallocate(void* ptr, device_stream stream) noexcept = 0;

  /// Page-locked host memory (usable from every device), and its release. Slow calls: gapm
  /// caches what it allocates (host/store/pinned_memory.hpp).
  [[nodiscard]] virtual void* allocate_pinned(std::size_t bytes) = 0;
  virtual void free_pinned(void* ptr) noexcept = 0;

  /// Enqueues a copy between any two buffers (host or device). The host side must stay
  /// valid until the stream has run the copy; gapm's host sides are pinned (pinned_memory.hpp).
  virtual void copy(void* dst, const void* src, std::size_t bytes, device_stream stream) = 0;
  /// Enqueues setting `bytes` bytes at `dst` (device memory) to `byte`.
  virtual void fill(void* dst, unsigned char byte, std::size_t bytes, device_stream stream) = 0;
  /// Enqueues `task` to run on the host once the work before it on `stream` is done; later
  /// work on the stream waits for it. The task must not call the runtime.
  virtual void host_task(device_stream stream, std::function<void()> task) = 0;

  [[nodiscard]] virtual device_stream create_stream() = 0;
  virtual void destroy_stream(device_stream stream) noexcept = 0;
  [[nodiscard]] virtual device_event create_event() = 0;
  virtual void destroy_event(device_event event) noexcept = 0;
  /// The event completes when the work enqueued on `stream` before this call has.
  virtual void record(device_event event, device_stream stream) = 0;
  /// Work enqueued on `stream` after this call waits for the event's last recording.
  virtual void wait(device_stream stream, device_event event) = 0;
  /// Has the event's last recording completed?
  [[nodiscard]] virtual bool done(device_event event) = 0;
  /// Blocks until the work enqueued on `stream` has finished.
  virtual void synchronize(device_stream stream) = 0;
};

/// After a failure that may have left copies of host buffers queued on `stream`: waits for them
/// (as far as the stream still runs) before the caller lets the buffers go. Never throws.
inline void drain_after_failure(device_runtime& runtime, device_stream stream) noexcept {
  try {
    runtime.synchronize(stream);
  } catch (...) {  // the stream is broken: its copies will not run either
  }
}

/// Makes `device` current on the calling thread for a scope and puts back what was current
/// before (a context, or none): gapm never leaves the user's thread on another device, and its
/// own threads never touch a device other than their node's.
class device_scope {
 public:
  device_scope(device_runtime& runtime, int device) : runtime_{runtime}, saved_{runtime.current_context()} {
    runtime_.set_device(device);
  }
  ~device_scope() { runtime_.restore_context(saved_); }
  device_scope(const device_scope&) = delete;
  device_scope& operator=(const device_scope&) = delete;

 private:
  device_runtime& runtime_;
  device_runtime::context saved_;
};

}  // namespace gapm::detail
