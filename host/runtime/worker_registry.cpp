#include "host/runtime/worker_registry.hpp"

#include "host/common/expects.hpp"

namespace gapm::detail {
namespace {

void add_to(Stats& s, const worker_counters& c) {
  s.pulls_local += c.pulls_local.load();
  s.pulls_remote += c.pulls_remote.load();
  s.pushes_local += c.pushes_local.load();
  s.pushes_remote += c.pushes_remote.load();
  s.intent_keys += c.intent_keys.load();
}

}  // namespace

worker_state& worker_registry::add(int id) {
  GAPM_EXPECTS(id >= 0 && static_cast<std::size_t>(id) < workers_.size(), "Worker(", id,
               "): worker id is out of range [0, ", workers_.size(), ") (option 'workers')");
  std::lock_guard guard{mutex_};
  auto& slot = workers_[static_cast<std::size_t>(id)];
  GAPM_EXPECTS(slot == nullptr, "Worker(", id, "): a worker with this id already exists on this node");
  slot = std::make_unique<worker_state>(id, tickets_);
  return *slot;
}

void worker_registry::remove(worker_state& worker, const std::function<void(int)>& before_free) noexcept {
  std::lock_guard guard{mutex_};
  auto& slot = workers_[static_cast<std::size_t>(worker.id())];
  if (slot.get() != &worker) return;
  if (before_free) before_free(worker.id());
  auto& c = worker.counters();
  for (auto [from, to] : {std::pair{&c.pulls_local, &retired_.pulls_local},
                          std::pair{&c.pulls_remote, &retired_.pulls_remote},
                          std::pair{&c.pushes_local, &retired_.pushes_local},
                          std::pair{&c.pushes_remote, &retired_.pushes_remote},
                          std::pair{&c.intent_keys, &retired_.intent_keys}})
    to->fetch_add(from->load());
  slot.reset();
}

std::vector<clock_type> worker_registry::clocks() {
  std::vector<clock_type> clocks(workers_.size(), WORKER_FINISHED);
  std::lock_guard guard{mutex_};
  for (std::size_t w = 0; w < workers_.size(); ++w)
    if (workers_[w] && !workers_[w]->finalized()) clocks[w] = workers_[w]->clock();
  return clocks;
}

void worker_registry::fail_all(std::exception_ptr reason) {
  std::lock_guard guard{mutex_};
  for (auto& worker : workers_)
    if (worker) worker->fail_requests(reason);
}

void worker_registry::add_counters(Stats& stats) {
  std::lock_guard guard{mutex_};
  add_to(stats, retired_);
  for (const auto& worker : workers_)
    if (worker) add_to(stats, worker->counters());
}

}  // namespace gapm::detail
