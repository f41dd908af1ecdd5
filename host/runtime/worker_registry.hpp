// worker_registry: the workers registered with a node, by worker id. Ids are reusable; ticket
// ids are not (ticket_source), so a worker registered again never sees its predecessor's
// answers. Counters of deregistered workers are kept for Stats.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <gapm/stats.hpp>
#include <gapm/types.hpp>

#include "host/runtime/request_tracker.hpp"
#include "host/runtime/worker_state.hpp"

namespace gapm::detail {

class worker_registry {
 public:
  explicit worker_registry(int workers) : workers_(static_cast<std::size_t>(workers)) {}

  /// Registers worker `id`; throws logic_error for an id out of range or already taken.
  worker_state& add(int id);
  /// Deregisters `worker` (its counters are kept); does nothing for a worker not registered.
  /// before_free(id) runs first, while nobody can take the id yet.
  void remove(worker_state& worker, const std::function<void(int)>& before_free = {}) noexcept;

  /// Runs fn(worker) with the registry locked, for the worker with id `id` if it exists: a
  /// worker found this way cannot be removed while fn runs.
  template <class Fn>
  void with_worker(int id, Fn fn) {
    std::lock_guard guard{mutex_};
    if (id >= 0 && static_cast<std::size_t>(id) < workers_.size() && workers_[static_cast<std::size_t>(id)])
      fn(*workers_[static_cast<std::size_t>(id)]);
  }

  /// Every worker's clock; WORKER_FINISHED for finished or absent workers.
  [[nodiscard]] std::vector<clock_type> clocks();
  /// No answer will be applied any more: every waiting request fails with `reason`.
  void fail_all(std::exception_ptr reason);
  /// Adds the counters of every worker, registered or not, to `stats`.
  void add_counters(Stats& stats);

 private:
  ticket_source tickets_;  // before the workers: their trackers draw ids from it
  std::mutex mutex_;
  std::vector<std::unique_ptr<worker_state>> workers_;  // by worker id; null when free
  worker_counters retired_;                              // counters of deregistered workers
};

}  // namespace gapm::detail
