#include "comm/shaped_transport.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <gapm/options.hpp>

#include "host/common/thread_cpu.hpp"

namespace gapm::detail {

network_model network_model::from_options(const Options& options) {
  network_model model;
  model.latency = std::chrono::nanoseconds{std::llround(options.net_latency_us * 1000.0)};
  model.bytes_per_second = options.net_bandwidth_gbps * 1e9 / 8;
  return model;
}

std::chrono::nanoseconds network_model::transmission_time(std::size_t bytes) const noexcept {
  if (!(bytes_per_second > 0) || std::isinf(bytes_per_second)) return std::chrono::nanoseconds{0};
  return std::chrono::nanoseconds{std::llround(static_cast<double>(bytes) / bytes_per_second * 1e9)};
}

std::string network_model::describe() const {
  std::ostringstream os;
  os << "latency " << static_cast<double>(latency.count()) / 1000.0 << " us, ";
  if (bytes_per_second > 0 && !std::isinf(bytes_per_second))
    os << bytes_per_second * 8 / 1e9 << " Gbit/s per peer link";
  else
    os << "unlimited bandwidth";
  return os.str();
}

shaped_transport::shaped_transport(std::unique_ptr<transport> inner, int world_size, network_model model)
    : inner_{std::move(inner)},
      model_{model},
      name_{std::string(inner_->name()) + "+network-model"},
      links_(static_cast<std::size_t>(world_size)),
      link_errors_(static_cast<std::size_t>(world_size)) {
  releaser_ = std::thread([this] {
    name_this_thread("gapm-netmodel");
    release_loop();
  });
}

comm_result shaped_transport::send(int peer, std::vector<std::byte> frame) {
  if (peer < 0 || peer >= static_cast<int>(links_.size()))
    return comm_result::failure("no node " + std::to_string(peer) + " in this cluster");
  const auto now = clock::now();
  const std::size_t bytes = frame.size();
  pending_frame pending{now, now, std::move(frame)};
  bool wake = false;
  {
    std::lock_guard guard{mutex_};
    if (stopping_) return comm_result::failure("the transport is closed");
    const auto index = static_cast<std::size_t>(peer);
    if (!link_errors_[index].empty()) return comm_result::failure(link_errors_[index]);
    link& to = links_[index];
    const auto start = std::max(now, to.free_at);
    to.free_at = start + model_.transmission_time(bytes);
    pending.due = to.free_at + model_.latency;
    // Wake the release thread only if this frame is due before its planned wake-up (a
    // wasted wake-up costs a context switch, which on a busy machine delays other frames).
    wake = pending.due < planned_wake_;
    if (wake) planned_wake_ = pending.due;
    to.queue.push_back(std::move(pending));
  }
  if (wake) wake_.notify_one();
  return comm_result::success();
}

std::vector<std::pair<int, shaped_transport::pending_frame>> shaped_transport::take_due(clock::time_point now,
                                                                                       bool all) {
  std::vector<std::pair<int, pending_frame>> due;
  for (std::size_t peer = 0; peer < links_.size(); ++peer) {
    auto& queue = links_[peer].queue;
    while (!queue.empty() && (all || queue.front().due <= now)) {
      due.emplace_back(static_cast<int>(peer), std::move(queue.front()));
      queue.pop_front();
    }
  }
  // Deliver in due order across peers; stable, so each peer's frames keep their order.
  std::stable_sort(due.begin(), due.end(), [](const auto& a, const auto& b) { return a.second.due < b.second.due; });
  return due;
}

void shaped_transport::release(std::vector<std::pair<int, pending_frame>>& frames, bool at_close) {
  for (auto& [peer, frame] : frames) {
    const auto now = clock::now();
    const std::size_t bytes = frame.bytes.size();
    auto result = inner_->send(peer, std::move(frame.bytes));
    std::lock_guard guard{mutex_};
    if (!result.ok() && link_errors_[static_cast<std::size_t>(peer)].empty())
      link_errors_[static_cast<std::size_t>(peer)] = result.error;
    ++stats_.frames;
    stats_.bytes += bytes;
    stats_.modelled_delay_s += std::chrono::duration<double>(frame.due - frame.sent).count();
    if (now < frame.due) {
      if (at_close) ++stats_.flushed_at_close;
    } else {
      const double late = std::chrono::duration<double>(now - frame.due).count();
      stats_.late_s += late;
      stats_.max_late_s = std::max(stats_.max_late_s, late);
    }
  }
}

void shaped_transport::release_loop() {
#ifdef __linux__
  // Timed waits of this thread may end up to the timer slack (50 us by default) late; the
  // model's latencies are tens of microseconds, so ask for 1 us.
  (void)::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
  std::unique_lock lock{mutex_};
  while (!stopping_) {
    auto next = clock::time_point::max();
    for (const auto& l : links_)
      if (!l.queue.empty()) next = std::min(next, l.queue.front().due);
    planned_wake_ = next;
    if (next == clock::time_point::max()) {
      wake_.wait(lock);
      continue;
    }
    if (clock::now() < next) {
      wake_.wait_until(lock, next);
      continue;  // woken early by a new frame, or by close(): look again
    }
    planned_wake_ = clock::time_point::min();  // releasing now: it looks again before it sleeps
    auto frames = take_due(clock::now(), false);
    lock.unlock();
    release(frames, false);
    lock.lock();
  }
  auto rest = take_due(clock::now(), true);
  lock.unlock();
  release(rest, true);
}

void shaped_transport::close() noexcept {
  std::lock_guard close_guard{close_mutex_};
  if (closed_) return;
  closed_ = true;
  {
    std::lock_guard guard{mutex_};
    stopping_ = true;
  }
  wake_.notify_all();
  if (releaser_.joinable()) releaser_.join();  // it hands every waiting frame over first
  inner_->close();
}

shaping_stats shaped_transport::stats() const {
  std::lock_guard guard{mutex_};
  return stats_;
}

}  // namespace gapm::detail
