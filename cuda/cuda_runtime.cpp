// The device runtime on the CUDA runtime API (the CUDA build).
#include "cuda/cuda_runtime.hpp"

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <cuda.h>  // the driver's pointer attributes (types only: the function comes from the runtime)
#include <cuda_runtime_api.h>

#include "cuda/cuda_error.hpp"

namespace gapm::detail {
namespace {

cudaStream_t to_cuda(device_stream stream) {
  // Null is the calling thread's own default stream, never the legacy one (which would
  // serialise with every blocking stream of the process, PyTorch's included).
  return stream == nullptr ? cudaStreamPerThread : static_cast<cudaStream_t>(stream);
}

// cuPointerGetAttributes through the runtime's driver entry point: asking the driver leaves
// the runtime's error state alone, where a failed cudaPointerGetAttributes would set it and
// clearing it again would swallow the caller's own pending error.
using pointer_attributes_fn = CUresult (*)(unsigned, CUpointer_attribute*, void**, CUdeviceptr);
// cuCtxGetCurrent / cuCtxSetCurrent: what is current on a thread, put back as it was (none
// included), where the runtime could only "set device 0" and so create a context there.
using get_context_fn = CUresult (*)(CUcontext*);
using set_context_fn = CUresult (*)(CUcontext);

template <class Fn>
Fn driver_function(const char* name) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult found{};
  if (cudaGetDriverEntryPointByVersion(name, &fn, 12000, cudaEnableDefault, &found) != cudaSuccess ||
      found != cudaDriverEntryPointSuccess) {
    (void)cudaGetLastError();  // made at start-up, before any work of the user's could be pending
    return nullptr;
  }
  return reinterpret_cast<Fn>(fn);
}

void CUDART_CB run_host_task(void* task) {
  std::unique_ptr<std::function<void()>> owned{static_cast<std::function<void()>*>(task)};
  (*owned)();
}

class cuda_runtime final : public device_runtime {
 public:
  explicit cuda_runtime(int count)
      : count_{count},
        pointer_attributes_{driver_function<pointer_attributes_fn>("cuPointerGetAttributes")},
        get_context_{driver_function<get_context_fn>("cuCtxGetCurrent")},
        set_context_{driver_function<set_context_fn>("cuCtxSetCurrent")},
        pools_(static_cast<std::size_t>(count)),
        pools_made_(static_cast<std::size_t>(count)) {}

  [[nodiscard]] std::string_view name() const noexcept override { return "cuda"; }
  [[nodiscard]] int device_count() const noexcept override { return count_; }

  [[nodiscard]] int current_device() const override {
    int device = 0;
    GAPM_CUDA_TRY(cudaGetDevice(&device));
    return device;
  }
  void set_device(int device) override { GAPM_CUDA_TRY(cudaSetDevice(device)); }

  [[nodiscard]] std::string device_identity(int device) const override {
    cudaDeviceProp properties{};
    GAPM_CUDA_TRY(cudaGetDeviceProperties(&properties, device));
    static constexpr char digits[] = "0123456789abcdef";
    std::string uuid = "GPU-";
    for (const char byte : properties.uuid.bytes) {
      uuid += digits[(static_cast<unsigned char>(byte) >> 4) & 0xf];
      uuid += digits[static_cast<unsigned char>(byte) & 0xf];
    }
    return uuid;
  }

  [[nodiscard]] context current_context() const noexcept override {
    CUcontext current = nullptr;
    if (get_context_ != nullptr && get_context_(&current) == CUDA_SUCCESS) return current;
    int device = 0;  // no driver entry point: the device number is the best there is
    (void)cudaGetDevice(&device);
    return reinterpret_cast<context>(static_cast<std::intptr_t>(device) + 1);
  }
  void restore_context(context saved) noexcept override {
    if (set_context_ != nullptr) {
      CUcontext now = nullptr;
      if (get_context_(&now) == CUDA_SUCCESS && now != static_cast<CUcontext>(saved))
        (void)set_context_(static_cast<CUcontext>(saved));
      return;
    }
    (void)cudaSetDevice(static_cast<int>(reinterpret_cast<std::intptr_t>(saved) - 1));
  }
  [[nodiscard]] bool is_thread_default(device_stream stream) const noexcept override {
    return stream == nullptr || stream == static_cast<device_stream>(cudaStreamPerThread);
  }

  [[nodiscard]] memory_space space_of(const void* ptr) const noexcept override {
    return kind_of(ptr) == pointer_kind::device ? memory_space::device : memory_space::host;
  }
  [[nodiscard]] bool is_pinned(const void* ptr) const noexcept override { return kind_of(ptr) == pointer_kind::pinned; }

  void memory_info(std::size_t& free_bytes, std::size_t& total_bytes) override {
    GAPM_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  }

  [[nodiscard]] void* allocate(std::size_t bytes, device_stream stream) override {
    void* ptr = nullptr;
    GAPM_CUDA_TRY(cudaMallocFromPoolAsync(&ptr, bytes, pool(), to_cuda(stream)));
    return ptr;
  }
  void deallocate(void* ptr, device_stream stream) noexcept override { (void)cudaFreeAsync(ptr, to_cuda(stream)); }

  [[nodiscard]] void* allocate_pinned(std::size_t bytes) override {
    // Running out of pinned memory is handled (host/store/pinned_memory.cpp): the failure must
    // not stay behind as the runtime's last error, unless the caller had one pending.
    const bool caller_error_pending = cudaPeekAtLastError() != cudaSuccess;
    void* ptr = nullptr;
    if (const cudaError_t status = cudaHostAlloc(&ptr, bytes, cudaHostAllocPortable); status != cudaSuccess) {
      if (!caller_error_pending) (void)cudaGetLastError();
      throw_cuda_error(status, "cudaHostAlloc", __FILE__, __LINE__);
    }
    return ptr;
  }
  void free_pinned(void* ptr) noexcept override { (void)cudaFreeHost(ptr); }

  void copy(void* dst, const void* src, std::size_t bytes, device_stream stream) override {
    GAPM_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, to_cuda(stream)));
  }
  void fill(void* dst, unsigned char byte, std::size_t bytes, device_stream stream) override {
    GAPM_CUDA_TRY(cudaMemsetAsync(dst, byte, bytes, to_cuda(stream)));
  }
  void host_task(device_stream stream, std::function<void()> task) override {
    auto owned = std::make_unique<std::function<void()>>(std::move(task));
    GAPM_CUDA_TRY(cudaLaunchHostFunc(to_cuda(stream), run_host_task, owned.get()));
    (void)owned.release();  // run_host_task owns it now
  }

  [[nodiscard]] device_stream create_stream() override {
    cudaStream_t stream = nullptr;
    GAPM_CUDA_TRY(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    return stream;
  }
  void destroy_stream(device_stream stream) noexcept override { (void)cudaStreamDestroy(static_cast<cudaStream_t>(stream)); }
  [[nodiscard]] device_event create_event() override {
    cudaEvent_t event = nullptr;
    GAPM_CUDA_TRY(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    return event;
  }
  void destroy_event(device_event event) noexcept override { (void)cudaEventDestroy(static_cast<cudaEvent_t>(event)); }
  void record(device_event event, device_stream stream) override {
    GAPM_CUDA_TRY(cudaEventRecord(static_cast<cudaEvent_t>(event), to_cuda(stream)));
  }
  void wait(device_stream stream, device_event event) override {
    GAPM_CUDA_TRY(cudaStreamWaitEvent(to_cuda(stream), static_cast<cudaEvent_t>(event), 0));
  }
  [[nodiscard]] bool done(device_event event) override {
    const cudaError_t status = cudaEventQuery(static_cast<cudaEvent_t>(event));
    if (status == cudaErrorNotReady) return false;
    GAPM_CUDA_TRY(status);
    return true;
  }
  void synchronize(device_stream stream) override { GAPM_CUDA_TRY(cudaStreamSynchronize(to_cuda(stream))); }

 private:
  enum class pointer_kind { pageable, pinned, device };
  // What `ptr` points into, without changing the caller's pending runtime error.
  [[nodiscard]] pointer_kind kind_of(const void* ptr) const noexcept {
    if (ptr == nullptr) return pointer_kind::pageable;
    if (pointer_attributes_ != nullptr) {
      CUpointer_attribute asked[] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_IS_MANAGED};
      unsigned int type = 0;  // 0 for memory CUDA does not know (pageable): no error
      std::uint64_t managed = 0;  // "a boolean": wide enough whatever its width, read as non-zero
      void* answers[] = {&type, &managed};
      if (pointer_attributes_(2, asked, answers, reinterpret_cast<CUdeviceptr>(ptr)) == CUDA_SUCCESS) {
        if (type == CU_MEMORYTYPE_DEVICE || managed != 0) return pointer_kind::device;
        return type == CU_MEMORYTYPE_HOST ? pointer_kind::pinned : pointer_kind::pageable;
      }
    }
    // No driver entry point, or the driver refused (no context on this thread): ask the
    // runtime. A failure here is cleared unless the caller had an error pending, which the
    // runtime then reports as ours (it keeps only the last one): a rare path, never a crash.
    const bool caller_error_pending = cudaPeekAtLastError() != cudaSuccess;
    cudaPointerAttributes attributes{};
    if (cudaPointerGetAttributes(&attributes, ptr) != cudaSuccess) {
      if (!caller_error_pending) (void)cudaGetLastError();
      return pointer_kind::pageable;
    }
    switch (attributes.type) {
      case cudaMemoryTypeDevice:
      case cudaMemoryTypeManaged: return pointer_kind::device;
      case cudaMemoryTypeHost: return pointer_kind::pinned;
      default: return pointer_kind::pageable;
    }
  }

  // gapm's own stream-ordered pool on the current device, made on first use. It keeps freed
  // memory instead of returning it to the driver at every synchronisation (release threshold
  // 0, the default, would re-map it every call); being gapm's own, the user's allocations from
  // the device's default pool keep their settings.
  cudaMemPool_t pool() {
    const auto device = static_cast<std::size_t>(current_device());
    std::call_once(pools_made_[device], [&] {
      cudaMemPoolProps props{};
      props.allocType = cudaMemAllocationTypePinned;
      props.location.type = cudaMemLocationTypeDevice;
      props.location.id = static_cast<int>(device);
      GAPM_CUDA_TRY(cudaMemPoolCreate(&pools_[device], &props));
      std::uint64_t keep = std::numeric_limits<std::uint64_t>::max();
      GAPM_CUDA_TRY(cudaMemPoolSetAttribute(pools_[device], cudaMemPoolAttrReleaseThreshold, &keep));
    });
    return pools_[device];
  }

  const int count_;
  const pointer_attributes_fn pointer_attributes_;
  const get_context_fn get_context_;
  const set_context_fn set_context_;
  std::vector<cudaMemPool_t> pools_;
  std::vector<std::once_flag> pools_made_;
};

}  // namespace

device_runtime& cuda_device_runtime(int device_count) {
  static cuda_runtime runtime{device_count};
  return runtime;
}

}  // namespace gapm::detail
