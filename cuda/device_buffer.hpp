// device_buffer<T>: the one owner of a stream-ordered device allocation.
#pragma once

#include <cstddef>
#include <utility>

#include "cuda/device_runtime.hpp"

namespace gapm::detail {

template <class T>
class device_buffer {
 public:
  device_buffer() noexcept = default;
  /// `size` values, usable by work on `stream` enqueued after this; freed in `stream`'s order.
  device_buffer(device_runtime& runtime, std::size_t size, device_stream stream)
      : runtime_{&runtime},
        data_{size > 0 ? static_cast<T*>(runtime.allocate(size * sizeof(T), stream)) : nullptr},
        size_{size},
        stream_{stream} {}
  ~device_buffer() { release(); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  device_buffer(device_buffer&& other) noexcept
      : runtime_{other.runtime_},
        data_{std::exchange(other.data_, nullptr)},
        size_{std::exchange(other.size_, 0)},
        stream_{other.stream_} {}
  device_buffer& operator=(device_buffer&& other) noexcept {
    if (this != &other) {
      release();
      runtime_ = other.runtime_;
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      stream_ = other.stream_;
    }
    return *this;
  }

  [[nodiscard]] T* data() noexcept { return data_; }
  [[nodiscard]] const T* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t bytes() const noexcept { return size_ * sizeof(T); }
  /// Frees the buffer in `stream`'s order instead (a stream that has waited for the work that
  /// filled it, and enqueues the work that uses it last).
  void free_in_order_of(device_stream stream) noexcept { stream_ = stream; }

 private:
  void release() noexcept {
    if (data_ != nullptr) runtime_->deallocate(data_, stream_);
    data_ = nullptr;
  }

  device_runtime* runtime_ = nullptr;
  T* data_ = nullptr;
  std::size_t size_ = 0;
  device_stream stream_ = nullptr;
};

}  // namespace gapm::detail
