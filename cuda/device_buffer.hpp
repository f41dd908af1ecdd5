// device_buffer<T>: the one owner of a stream-ordered device allocation.
#pragma once

#include <cstddef>
#include <utility>

#include "cuda/memory_resource.hpp"

namespace gapm::detail {

template <class T>
class device_buffer {
 public:
  device_buffer() noexcept = default;
  device_buffer(std::size_t size, cudaStream_t stream,
                device_memory_resource& resource = current_device_resource())
      : data_{static_cast<T*>(resource.allocate(size * sizeof(T), stream))},
        size_{size},
        stream_{stream},
        resource_{&resource} {}
  ~device_buffer() { release(); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  device_buffer(device_buffer&& other) noexcept
      : data_{std::exchange(other.data_, nullptr)},
        size_{std::exchange(other.size_, 0)},
        stream_{other.stream_},
        resource_{other.resource_} {}
  device_buffer& operator=(device_buffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      stream_ = other.stream_;
      resource_ = other.resource_;
    }
    return *this;
  }

  [[nodiscard]] T* data() noexcept { return data_; }
  [[nodiscard]] const T* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  void release() noexcept {
    if (data_ != nullptr) resource_->deallocate(data_, size_ * sizeof(T), stream_);
    data_ = nullptr;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
  cudaStream_t stream_ = nullptr;
  device_memory_resource* resource_ = nullptr;
};

}  // namespace gapm::detail
