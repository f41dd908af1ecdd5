// The device runtime on the CUDA runtime API (the CUDA build).
#include "cuda/cuda_runtime.hpp"

#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
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

pointer_attributes_fn find_pointer_attributes() {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult found{};
  if (cudaGetDriverEntryPointByVersion("cuPointerGetAttributes", &fn, 12000, cudaEnableDefault, &found) != cudaSuccess ||
      found != cudaDriverEntryPointSuccess)
    return nullptr;
  return reinterpret_cast<pointer_attributes_fn>(fn);
}

void CUDART_CB run_host_task(void* task) {
  std::unique_ptr<std::function<void()>> owned{static_cast<std::function<void()>*>(task)};
  (*owned)();
}

class cuda_runtime final : public device_runtime {
 public:
  explicit cuda_runtime(int count) : count_{count}, pools_tuned_(static_cast<std::size_t>(count)) {
    pointer_attributes_ = find_pointer_attributes();
  }

  [[nodiscard]] std::string_view name() const noexcept override { return "cuda"; }
  [[nodiscard]] int device_count() const noexcept override { return count_; }

  [[nodiscard]] int current_device() const override {
    int device = 0;
    GAPM_CUDA_TRY(cudaGetDevice(&device));
    return device;
  }
  void set_device(int device) override { GAPM_CUDA_TRY(cudaSetDevice(device)); }

  [[nodiscard]] memory_space space_of(const void* ptr) const noexcept override {
    if (ptr == nullptr) return memory_space::host;
    if (pointer_attributes_ != nullptr) {
      CUpointer_attribute asked[] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_IS_MANAGED};
      unsigned int type = 0;
      std::uint64_t managed = 0;  // "a boolean": wide enough whatever its width, read as non-zero
      void* answers[] = {&type, &managed};
      if (pointer_attributes_(2, asked, answers, reinterpret_cast<CUdeviceptr>(ptr)) == CUDA_SUCCESS)
        return type == CU_MEMORYTYPE_DEVICE || managed != 0 ? memory_space::device : memory_space::host;
    }
    // No driver entry point, or the driver refused (no context on this thread): ask the
    // runtime, clearing only an error of our own making.
    const bool caller_error_pending = cudaPeekAtLastError() != cudaSuccess;
    cudaPointerAttributes attributes{};
    if (cudaPointerGetAttributes(&attributes, ptr) != cudaSuccess) {
      if (!caller_error_pending) (void)cudaGetLastError();
      return memory_space::host;
    }
    return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged ? memory_space::device
                                                                                               : memory_space::host;
  }

  void memory_info(std::size_t& free_bytes, std::size_t& total_bytes) override {
    GAPM_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  }

  [[nodiscard]] void* allocate(std::size_t bytes, device_stream stream) override {
    keep_pool_memory();
    void* ptr = nullptr;
    GAPM_CUDA_TRY(cudaMallocAsync(&ptr, bytes, to_cuda(stream)));
    return ptr;
  }
  void deallocate(void* ptr, device_stream stream) noexcept override { (void)cudaFreeAsync(ptr, to_cuda(stream)); }

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
  // The stream-ordered pool of the current device keeps freed memory instead of returning it
  // to the driver at every synchronisation (release threshold 0 would re-map it every call).
  void keep_pool_memory() {
    const int device = current_device();
    std::call_once(pools_tuned_[static_cast<std::size_t>(device)], [device] {
      cudaMemPool_t pool = nullptr;
      GAPM_CUDA_TRY(cudaDeviceGetDefaultMemPool(&pool, device));
      std::uint64_t keep = std::numeric_limits<std::uint64_t>::max();
      GAPM_CUDA_TRY(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
    });
  }

  const int count_;
  pointer_attributes_fn pointer_attributes_ = nullptr;
  std::vector<std::once_flag> pools_tuned_;
};

}  // namespace

device_runtime& cuda_device_runtime(int device_count) {
  static cuda_runtime runtime{device_count};
  return runtime;
}

}  // namespace gapm::detail
