// local_barrier: a reusable barrier for the worker threads of one node. The last thread to
// arrive runs `on_complete` (e.g. the cluster-wide barrier) before anyone is released; if
// it throws, every waiter of that generation rethrows.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>

namespace gapm::detail {

class local_barrier {
 public:
  explicit local_barrier(int participants) : participants_{participants} {}

  void arrive_and_wait(const std::function<void()>& on_complete) {
    std::unique_lock lock{mutex_};
    if (broken_) std::rethrow_exception(broken_);
    const std::uint64_t generation = generation_;
    if (++arrived_ < participants_) {
      released_.wait(lock, [&] { return generation_ != generation || broken_; });
      if (generation_ == generation) std::rethrow_exception(broken_);
      if (failure_generation_ == generation) std::rethrow_exception(failure_);
      return;
    }
    std::exception_ptr failure;
    if (on_complete) {
      lock.unlock();  // the others stay parked: arrived_ only resets below
      try {
        on_complete();
      } catch (...) {
        failure = std::current_exception();
      }
      lock.lock();
    }
    arrived_ = 0;
    if (failure) {
      failure_ = failure;
      failure_generation_ = generation;
    }
    ++generation_;
    released_.notify_all();
    if (failure) std::rethrow_exception(failure);
  }

  /// Wakes every waiter with `reason` and makes every later arrival throw it: used when the
  /// cluster fails, so that a worker parked here never waits for a peer that cannot come.
  void break_all(std::exception_ptr reason) {
    {
      std::lock_guard guard{mutex_};
      if (!broken_) broken_ = std::move(reason);
    }
    released_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  int participants_;
  int arrived_ = 0;
  std::uint64_t generation_ = 0;
  std::uint64_t failure_generation_ = ~std::uint64_t{0};
  std::exception_ptr failure_;
  std::exception_ptr broken_;  // set by break_all(): the barrier can never complete again
};

}  // namespace gapm::detail
