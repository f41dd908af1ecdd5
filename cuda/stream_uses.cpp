#include "cuda/stream_uses.hpp"

#include <atomic>

namespace gapm::detail {

stream_uses::stream_key stream_uses::key_of(device_stream stream) const {
  static std::atomic<std::uint64_t> threads{0};
  thread_local const std::uint64_t this_thread = ++threads;
  return rt_.is_thread_default(stream) ? stream_key{nullptr, this_thread} : stream_key{stream, 0};
}

void stream_uses::before_kernel(device_stream stream) {
  std::lock_guard guard{mutex_};
  device_event& last = last_kernel_[key_of(stream)];
  if (last == nullptr) last = rt_.create_event();
  if (last_change_ != nullptr && !rt_.done(last_change_)) rt_.wait(stream, last_change_);
}

void stream_uses::after_kernel(device_stream stream) {
  std::lock_guard guard{mutex_};
  rt_.record(last_kernel_[key_of(stream)], stream);
}

void stream_uses::changed(device_stream admin) {
  std::lock_guard guard{mutex_};  // before_kernel may be asking the event meanwhile
  if (last_change_ == nullptr) last_change_ = rt_.create_event();
  rt_.record(last_change_, admin);
}

std::vector<device_event> stream_uses::take_unfinished() {
  std::vector<device_event> unfinished;
  std::lock_guard guard{mutex_};
  for (auto& [key, event] : last_kernel_) {
    if (rt_.done(event)) rt_.destroy_event(event);
    else unfinished.push_back(event);
  }
  last_kernel_.clear();
  return unfinished;
}

void stream_uses::order_after_others(device_stream stream) {
  const stream_key mine = key_of(stream);
  std::lock_guard guard{mutex_};
  for (const auto& [key, event] : last_kernel_)
    if (key != mine) rt_.wait(stream, event);
}

void stream_uses::destroy() noexcept {
  std::lock_guard guard{mutex_};
  for (auto& [key, event] : last_kernel_) rt_.destroy_event(event);
  last_kernel_.clear();
  if (last_change_ != nullptr) rt_.destroy_event(std::exchange(last_change_, nullptr));
}

}  // namespace gapm::detail
