#include "host/runtime/node_impl.hpp"

#include <algorithm>
#include <memory>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <unordered_map>

#include <gapm/errors.hpp>

#include "host/common/expects.hpp"
#include "host/common/memory_plan.hpp"
#include "host/common/value_type.hpp"
#include "host/store/memory_space.hpp"
#include "host/store/store_factory.hpp"

namespace gapm::detail {

template <class T>
node_impl<T>::node_impl(Options options)
    : options_{std::move(options)},
      env_{discover_cluster_env()},
      keys_{(options_.validate(), options_.tables)},
      store_kind_{resolve_store_kind(options_.store)},
      workers_(static_cast<std::size_t>(options_.workers)),
      worker_barrier_{options_.workers} {
  // Nothing is allocated before the plan is known to fit; what still fails says what it was.
  const memory_plan_input plan{&keys_, env_.rank, env_.world_size, sizeof(T), store_kind_ == store_kind::cpu};
  check_memory_plan(plan, available_memory_bytes());
  try {
    allocate_home_keys();
    if (env_.world_size > 1) states_ = std::make_unique<key_states>(keys_.num_keys(), env_.rank, env_.world_size);
  } catch (const std::bad_alloc&) {
    throw error(concat("gapm: node ", env_.rank, ": out of host memory while allocating the tables (",
                       keys_.num_keys(), " keys; ", human_bytes(static_cast<double>(available_memory_bytes())),
                       " available now)"));
  }
  if (env_.world_size > 1) {
    node_hello self;
    self.rank = env_.rank;
    self.world_size = env_.world_size;
#if GAPM_WITH_CUDA
    self.build = "cuda";
#else
    self.build = "cpu";
#endif
    self.value_type = value_name<T>();
    self.options = options_.to_string();
    // Intent-driven management: one sync manager per channel (none for the classic,
    // statically partitioned parameter server). They exist before the cluster delivers the
    // first message, and run once it can carry theirs.
    if (options_.techniques != technique_mode::none)
      for (int c = 0; c < options_.sync_channels; ++c)
        sync_managers_.push_back(std::make_unique<sync_manager<T>>(*this, c));
    cluster_ = std::make_unique<cluster>(env_, options_, std::move(self), static_cast<message_handler&>(*this));
    cluster_->start();  // only now: the handlers answer through cluster_
    for (auto& manager : sync_managers_) manager->start();
  }
}

template <class T>
void node_impl<T>::allocate_home_keys() {
  // Allocate (zero-filled) every key this node is home for: key % world_size == rank.
  std::vector<key_type> home;
  for (std::size_t t = 0; t < keys_.num_tables(); ++t) {
    const key_type begin = keys_.table_begin(t);
    const table_spec& table = keys_.table(t);
    stores_.push_back(make_store<T>(store_kind_, begin, table, options_, env_.local_rank));
    home.clear();
    for (key_type k = begin; k < begin + table.num_keys; ++k)
      if (home_of(k) == env_.rank) home.push_back(k);
    GAPM_EXPECTS(stores_.back()->insert(home.data(), home.size()), "table ", t, " needs ", home.size(),
                 " row slots for its home keys, but option 'capacity' allows ",
                 stores_.back()->index().capacity());
  }
}

template <class T>
node_impl<T>::~node_impl() {
  shutdown(false);
}

template <class T>
std::string node_impl<T>::store_name() const {
  return std::string(stores_.front()->name());
}

template <class T>
worker_state& node_impl<T>::register_worker(int id) {
  GAPM_EXPECTS(!shut_down_.load(), "Worker(", id, "): the node has been shut down");
  GAPM_EXPECTS(id >= 0 && id < options_.workers, "Worker(", id, "): worker id is out of range [0, ",
               options_.workers, ") (option 'workers')");
  std::lock_guard guard{workers_mutex_};
  auto& slot = workers_[static_cast<std::size_t>(id)];
  GAPM_EXPECTS(slot == nullptr, "Worker(", id, "): a worker with this id already exists on this node");
  slot = std::make_unique<worker_state>(id, tickets_);
  return *slot;
}

template <class T>
void node_impl<T>::deregister_worker(worker_state& worker) noexcept {
  std::lock_guard guard{workers_mutex_};
  auto& slot = workers_[static_cast<std::size_t>(worker.id())];
  if (slot.get() != &worker) return;
  auto& c = worker.counters();
  for (auto [from, to] : {std::pair{&c.pulls_local, &retired_.pulls_local},
                          std::pair{&c.pulls_remote, &retired_.pulls_remote},
                          std::pair{&c.pushes_local, &retired_.pushes_local},
                          std::pair{&c.pushes_remote, &retired_.pushes_remote},
                          std::pair{&c.intent_keys, &retired_.intent_keys}})
    to->fetch_add(from->load());
  slot.reset();
}

template <class T>
void node_impl<T>::check_usable(const worker_state& worker, const char* operation) const {
  GAPM_EXPECTS(!shut_down_.load(std::memory_order_relaxed), operation, ": worker ", worker.id(),
               " used after the node was shut down");
  GAPM_EXPECTS(!worker.finalized(), operation, ": worker ", worker.id(), " used after finalize()");
  if (cluster_) cluster_->throw_if_failed();
}

template <class T>
void node_impl<T>::intent(worker_state& worker, const key_type* keys, std::size_t n, clock_type start,
                          clock_type end) {
  check_usable(worker, "intent");
  if (end == 0) end = start + 1;
  GAPM_EXPECTS(start >= 0, "intent: start clock ", start, " is negative");
  GAPM_EXPECTS(end > start, "intent: end clock ", end, " is not after start clock ", start);
  if (n == 0) return;
  GAPM_EXPECTS(keys != nullptr, "intent: keys is null (n = ", n, ")");
  const key_type* hkeys = host_keys(worker, keys, n);
  keys_.check_keys(hkeys, n, "intent");
  worker_counters::bump(worker.counters().intent_keys, n);
  // With one node every key is local, and the classic mode (techniques=none) ignores intent.
  if (!adaptive() || end <= worker.clock()) return;
  const future_intent intent = make_future_intent(hkeys, n, start, end);
  for (auto& manager : sync_managers_) manager->submit(worker.id(), intent);
}

template <class T>
void node_impl<T>::advance_clock(worker_state& worker) {
  check_usable(worker, "advance_clock");
  worker.advance_clock();
}

template <class T>
void node_impl<T>::wait_sync(worker_state& worker) {
  check_usable(worker, "wait_sync");
  // Two more rounds on every channel: deltas sent in the first are merged and answered by
  // the time the second completes. Without sync managers there is nothing to wait for.
  std::vector<std::uint64_t> targets;
  for (auto& manager : sync_managers_) targets.push_back(manager->rounds() + 2);
  for (std::size_t c = 0; c < sync_managers_.size(); ++c) sync_managers_[c]->wait_for_round(targets[c]);
}

template <class T>
void node_impl<T>::worker_barrier(worker_state& worker) {
  check_usable(worker, "barrier");
  worker_barrier_.arrive_and_wait([this] { node_barrier(); });
}

template <class T>
void node_impl<T>::finalize(worker_state& worker) {
  check_usable(worker, "finalize");
  worker.requests().wait_all();
  wait_sync(worker);
  worker_barrier(worker);
  worker.mark_finalized();  // its clock now reads as finished: every intent has expired
}

template <class T>
void node_impl<T>::node_barrier() {
  GAPM_EXPECTS(!shut_down_.load(), "barrier: the node has been shut down");
  if (cluster_) cluster_->barrier();
}

template <class T>
void node_impl<T>::shutdown(bool clean) noexcept {
  if (shut_down_.exchange(true)) return;
  if (clean && options_.print_stats) {
    try {
      std::cerr << "gapm node " << env_.rank << " of " << env_.world_size << " at shutdown:\n" + stats().summary();
    } catch (...) {  // printing is a courtesy; shutting down is not optional
    }
  }
  if (cluster_) {
    try {
      if (clean) cluster_->barrier();  // nobody leaves while another node may still ask it
    } catch (const std::exception&) {
      clean = false;  // the cluster already failed: leave without ceremony
    }
    for (auto& manager : sync_managers_) manager->stop();
    cluster_->leave(clean);
  }
  const auto reason = std::make_exception_ptr(logic_error("gapm: the node was shut down"));
  worker_barrier_.break_all(reason);
  std::lock_guard guard{workers_mutex_};
  for (auto& worker : workers_)
    if (worker) worker->fail_requests(reason);
}

template <class T>
Stats node_impl<T>::stats() const {
  Stats s;
  auto add = [&](const worker_counters& c) {
    s.pulls_local += c.pulls_local.load();
    s.pulls_remote += c.pulls_remote.load();
    s.pushes_local += c.pushes_local.load();
    s.pushes_remote += c.pushes_remote.load();
    s.intent_keys += c.intent_keys.load();
  };
  {
    std::lock_guard guard{const_cast<std::mutex&>(workers_mutex_)};
    add(retired_);
    for (const auto& worker : workers_)
      if (worker) add(worker->counters());
  }
  for (const auto& store : stores_) {
    s.slots_used += store->index().size();
    s.slots_capacity += store->index().capacity();
  }
  s.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  if (cluster_) {
    const auto& t = cluster_->traffic();
    s.messages_sent = t.messages_sent.load();
    s.messages_received = t.messages_received.load();
    s.bytes_sent = t.bytes_sent.load();
    s.bytes_received = t.bytes_received.load();
    s.malformed_messages = t.malformed.load();
    s.remote_answers = remote_answers_.load();
    s.forward_hops = forward_hops_.load();
  }
  s.replicas_created = replicas_created_.load();
  s.replicas_dropped = replicas_dropped_.load();
  s.relocations = relocations_.load();
  s.replica_rounds = replica_rounds_.load();
  for (const auto& manager : sync_managers_) {
    s.sync_rounds += manager->rounds();
    s.intent_entries += manager->intent_entries();
    s.intent_bytes += manager->intent_bytes();
  }
  if (!sync_managers_.empty() && s.uptime_s > 0)
    s.sync_rounds_per_sec = static_cast<double>(s.sync_rounds) / s.uptime_s / static_cast<double>(sync_managers_.size());
  return s;
}

template <class T>
bool node_impl<T>::owns(key_type key) const noexcept {
  return !states_ || states_->role(key) == key_role::main;
}

template class node_impl<float>;
template class node_impl<double>;
template class node_impl<std::int64_t>;

}  // namespace gapm::detail
