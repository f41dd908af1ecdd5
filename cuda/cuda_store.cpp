// cuda_store<T>: rows in a device slot pool, addressed through a device key→slot index.
//
// Host code keeps the authoritative slot_index (routing needs it without a device round
// trip); every insert/erase is mirrored into the device index on the store's own stream and
// completed before the call returns, so any stream that runs a row kernel afterwards sees it.
#include "cuda/cuda_store.hpp"

#include <algorithm>
#include <mutex>
#include <vector>

#include "cuda/cuda_error.hpp"
#include "cuda/device_buffer.hpp"
#include "cuda/row_kernels.hpp"
#include "host/common/expects.hpp"
#include "host/store/memory_space.hpp"

namespace gapm::detail {

int cuda_device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return count;
}

namespace {

// Slots the pool gets when the user did not say: capacity_fraction of the free memory, room
// for values and sync_state, never more than one slot per key.
std::uint64_t default_capacity(std::uint64_t num_keys, std::size_t row_bytes, double fraction) {
  std::size_t free_bytes = 0, total_bytes = 0;
  GAPM_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  const auto budget = static_cast<std::uint64_t>(static_cast<double>(free_bytes) * fraction);
  const std::uint64_t per_slot = 2 * row_bytes + sizeof(std::int32_t);
  return std::min<std::uint64_t>(num_keys, budget / per_slot);
}

template <class T>
class cuda_store final : public store_backend<T> {
 public:
  cuda_store(key_type first_key, std::uint64_t num_keys, std::uint32_t row_length, std::uint64_t capacity,
             int device)
      : store_backend<T>{first_key, num_keys, row_length, capacity}, device_{device} {
    GAPM_CUDA_TRY(cudaSetDevice(device_));
    GAPM_CUDA_TRY(cudaStreamCreateWithFlags(&admin_stream_, cudaStreamNonBlocking));
    device_index_ = device_buffer<std::int32_t>(num_keys, admin_stream_);
    values_ = device_buffer<T>(capacity * row_length, admin_stream_);
    GAPM_CUDA_TRY(cudaMemsetAsync(device_index_.data(), 0xff, num_keys * sizeof(std::int32_t), admin_stream_));  // -1
    GAPM_CUDA_TRY(cudaStreamSynchronize(admin_stream_));
  }

  ~cuda_store() override {
    (void)cudaSetDevice(device_);
    (void)cudaStreamSynchronize(admin_stream_);
    device_index_ = {};
    values_ = {};
    sync_ = {};
    (void)cudaStreamSynchronize(admin_stream_);
    (void)cudaStreamDestroy(admin_stream_);
  }

  [[nodiscard]] std::string_view name() const noexcept override { return "cuda"; }

  bool insert(const key_type* keys, std::size_t n) override {
    std::lock_guard guard{admin_mutex_};
    std::vector<key_type> added_keys;
    std::vector<slot_type> added_slots;
    if (!this->index_.insert(keys, n, added_keys, added_slots)) return false;
    std::vector<std::int32_t> slots(added_slots.begin(), added_slots.end());
    mirror(added_keys, slots, /*zero_rows=*/true);
    return true;
  }

  void erase(const key_type* keys, std::size_t n) override {
    std::lock_guard guard{admin_mutex_};
    std::vector<key_type> erased;
    for (std::size_t i = 0; i < n; ++i)
      if (this->index_.erase(keys[i]) != no_slot) erased.push_back(keys[i]);
    mirror(erased, std::vector<std::int32_t>(erased.size(), -1), /*zero_rows=*/false);
  }

  void gather(const key_type* keys, std::size_t n, T* out, stream_view stream) override {
    run(keys, n, out, true, false, stream,
        [&](const key_type* k, T* rows, cudaStream_t s) { launch_gather(ref(), k, n, rows, s); });
  }
  void scatter_add(const key_type* keys, std::size_t n, const T* deltas, stream_view stream) override {
    run(keys, n, const_cast<T*>(deltas), false, true, stream,
        [&](const key_type* k, T* rows, cudaStream_t s) { launch_scatter_add(ref(), k, n, rows, s); });
  }
  void assign(const key_type* keys, std::size_t n, const T* values, stream_view stream) override {
    run(keys, n, const_cast<T*>(values), false, true, stream,
        [&](const key_type* k, T* rows, cudaStream_t s) { launch_assign(ref(), k, n, rows, s); });
  }
  void extract_delta(const key_type* keys, std::size_t n, T* deltas, stream_view stream) override {
    ensure_sync_state();
    run(keys, n, deltas, true, false, stream,
        [&](const key_type* k, T* rows, cudaStream_t s) { launch_extract_delta(ref(), k, n, rows, s); });
  }
  void refresh_merge(const key_type* keys, std::size_t n, const T* main, stream_view stream) override {
    ensure_sync_state();
    run(keys, n, const_cast<T*>(main), false, true, stream,
        [&](const key_type* k, T* rows, cudaStream_t s) { launch_refresh_merge(ref(), k, n, rows, s); });
  }

  void apply_step(const key_type* keys, std::size_t n, const T* grads, const step_constants<T>& step,
                  stream_view stream) override {
    // `run` stages n * row_length values; the gradients are n * row_length / factor of them.
    const std::size_t d = this->row_length_ / step.factor;
    GAPM_CUDA_TRY(cudaSetDevice(device_));
    const cudaStream_t s = to_cuda(stream);
    device_buffer<T> staged;
    const T* dgrads = grads;
    if (space_of(grads) == memory_space::host) {
      staged = device_buffer<T>(n * d, s);
      GAPM_CUDA_TRY(cudaMemcpyAsync(staged.data(), grads, n * d * sizeof(T), cudaMemcpyHostToDevice, s));
      dgrads = staged.data();
    }
    run(keys, n, const_cast<T*>(dgrads), false, false, stream,
        [&](const key_type* k, T*, cudaStream_t st) { launch_step(ref(), k, n, dgrads, step, st); });
    if (staged.data() != nullptr) GAPM_CUDA_TRY(cudaStreamSynchronize(s));
  }

  void synchronize(stream_view stream) override {
    GAPM_CUDA_TRY(cudaSetDevice(device_));
    GAPM_CUDA_TRY(cudaStreamSynchronize(to_cuda(stream)));
  }

 private:
  static cudaStream_t to_cuda(stream_view stream) {
    // The default view is the calling thread's per-thread stream: workers never serialise on
    // one shared stream by accident.
    return stream.is_default() ? cudaStreamPerThread : static_cast<cudaStream_t>(stream.handle());
  }

  device_rows_ref<T> ref() {
    return {device_index_.data(), this->index_.first_key(), values_.data(), sync_.data(), this->row_length_};
  }

  // Stages host buffers through device memory: keys always in, rows in (`rows_in`) or out
  // (`rows_out`). Synchronises the stream only when something was staged.
  template <class Launch>
  void run(const key_type* keys, std::size_t n, T* rows, bool rows_out, bool rows_in, stream_view stream,
           Launch launch) {
    if (n == 0) return;
    GAPM_CUDA_TRY(cudaSetDevice(device_));
    const cudaStream_t s = to_cuda(stream);
    const std::size_t values = n * this->row_length_;
    device_buffer<key_type> staged_keys;
    device_buffer<T> staged_rows;
    const key_type* dkeys = keys;
    T* drows = rows;
    if (space_of(keys) == memory_space::host) {
      staged_keys = device_buffer<key_type>(n, s);
      GAPM_CUDA_TRY(cudaMemcpyAsync(staged_keys.data(), keys, n * sizeof(key_type), cudaMemcpyHostToDevice, s));
      dkeys = staged_keys.data();
    }
    const bool rows_on_host = space_of(rows) == memory_space::host;
    if (rows_on_host) {
      staged_rows = device_buffer<T>(values, s);
      if (rows_in)
        GAPM_CUDA_TRY(cudaMemcpyAsync(staged_rows.data(), rows, values * sizeof(T), cudaMemcpyHostToDevice, s));
      drows = staged_rows.data();
    }
    launch(dkeys, drows, s);
    if (rows_on_host && rows_out)
      GAPM_CUDA_TRY(cudaMemcpyAsync(rows, drows, values * sizeof(T), cudaMemcpyDeviceToHost, s));
    if (staged_keys.data() != nullptr || rows_on_host) GAPM_CUDA_TRY(cudaStreamSynchronize(s));
  }

  // Writes (key, slot) pairs into the device index and zeroes newly assigned rows.
  void mirror(const std::vector<key_type>& keys, const std::vector<std::int32_t>& slots, bool zero_rows) {
    if (keys.empty()) return;
    GAPM_CUDA_TRY(cudaSetDevice(device_));
    device_buffer<key_type> dkeys(keys.size(), admin_stream_);
    device_buffer<std::int32_t> dslots(slots.size(), admin_stream_);
    GAPM_CUDA_TRY(cudaMemcpyAsync(dkeys.data(), keys.data(), keys.size() * sizeof(key_type),
                                  cudaMemcpyHostToDevice, admin_stream_));
    GAPM_CUDA_TRY(cudaMemcpyAsync(dslots.data(), slots.data(), slots.size() * sizeof(std::int32_t),
                                  cudaMemcpyHostToDevice, admin_stream_));
    if (zero_rows) {
      launch_zero_rows(values_.data(), this->row_length_, dslots.data(), slots.size(), admin_stream_);
      if (sync_.data() != nullptr)
        launch_zero_rows(sync_.data(), this->row_length_, dslots.data(), slots.size(), admin_stream_);
    }
    launch_update_index(device_index_.data(), this->index_.first_key(), dkeys.data(), dslots.data(), keys.size(),
                        admin_stream_);
    GAPM_CUDA_TRY(cudaStreamSynchronize(admin_stream_));
  }

  // sync_state is needed only once the node holds replicas: allocate it then, zero-filled.
  void ensure_sync_state() {
    std::lock_guard guard{admin_mutex_};
    if (sync_.data() != nullptr) return;
    GAPM_CUDA_TRY(cudaSetDevice(device_));
    sync_ = device_buffer<T>(values_.size(), admin_stream_);
    GAPM_CUDA_TRY(cudaMemsetAsync(sync_.data(), 0, sync_.size() * sizeof(T), admin_stream_));
    GAPM_CUDA_TRY(cudaStreamSynchronize(admin_stream_));
  }

  int device_;
  cudaStream_t admin_stream_ = nullptr;
  std::mutex admin_mutex_;
  device_buffer<std::int32_t> device_index_;  // mirror of the host slot_index
  device_buffer<T> values_;
  device_buffer<T> sync_;
};

}  // namespace

template <class T>
std::unique_ptr<store_backend<T>> make_cuda_store(key_type first_key, std::uint64_t num_keys,
                                                  std::uint32_t row_length, std::uint64_t capacity,
                                                  double capacity_fraction, int device) {
  const int devices = cuda_device_count();
  GAPM_EXPECTS(devices > 0, "the CUDA store needs a CUDA device, and none is visible");
  device %= devices;
  GAPM_CUDA_TRY(cudaSetDevice(device));
  if (capacity == 0) capacity = default_capacity(num_keys, row_length * sizeof(T), capacity_fraction);
  return std::make_unique<cuda_store<T>>(first_key, num_keys, row_length, capacity, device);
}

template std::unique_ptr<store_backend<float>> make_cuda_store<float>(key_type, std::uint64_t, std::uint32_t,
                                                                      std::uint64_t, double, int);
template std::unique_ptr<store_backend<double>> make_cuda_store<double>(key_type, std::uint64_t, std::uint32_t,
                                                                        std::uint64_t, double, int);
template std::unique_ptr<store_backend<std::int64_t>> make_cuda_store<std::int64_t>(key_type, std::uint64_t,
                                                                                    std::uint32_t, std::uint64_t,
                                                                                    double, int);

}  // namespace gapm::detail
