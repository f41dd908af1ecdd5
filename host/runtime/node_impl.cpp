#include "host/runtime/node_impl.hpp"

#include <iostream>

#include <gapm/errors.hpp>

#include "cuda/device_platform.hpp"
#include "host/common/cores.hpp"
#include "host/common/expects.hpp"
#include "host/common/thread_cpu.hpp"
#include "host/common/value_type.hpp"

namespace gapm::detail {

template <class T>
node_impl<T>::node_impl(Options options) : parts_{std::move(options)} {
  if (parts_.world_size() == 1) {
    if (parts_.options.sync_channels == 0)
      parts_.options.sync_channels = auto_sync_channels(usable_cores(), machine_cores(), 1);
    return;
  }
  node_hello self;
  self.rank = parts_.rank();
  self.world_size = parts_.world_size();
#if GAPM_WITH_CUDA
  self.build = "cuda";
#else
  self.build = "cpu";
#endif
  self.value_type = value_name<T>();
  self.options = parts_.options.to_string();
  self.cores = usable_cores();
  self.machine_cores = machine_cores();
  if (const device_platform* platform = active_device_platform(); platform && parts_.store == store_kind::cuda) {
    self.device = platform->runtime.device_identity(parts_.device);  // rows on a GPU: the data plane may be NCCL
    if (platform->links != nullptr) self.plane = platform->links->name();
  }
  parts_.net = std::make_unique<cluster>(parts_.env, parts_.options, std::move(self), server_);
  parts_.options.sync_channels = parts_.net->sync_channels();  // sync.channels=0 (auto) resolved alike everywhere
  parts_.parked.set_notifier([net = parts_.net.get()] { net->wake_receiver(); });  // the receive thread takes them
  // Intent-driven management: one sync channel each (none for the classic, statically
  // partitioned parameter server). They exist before the cluster delivers the first message.
  if (parts_.options.techniques != technique_mode::none) parts_.make_channels();
  parts_.net->start();  // only now: the handlers answer through the cluster
  for (auto& channel : parts_.channels) channel->start();
}

template <class T>
node_impl<T>::~node_impl() {
  shutdown(false);
}

template <class T>
worker_state& node_impl<T>::register_worker(int id) {
  GAPM_EXPECTS(!parts_.shut_down.load(), "Worker(", id, "): the node has been shut down");
  return parts_.workers.add(id);
}

template <class T>
void node_impl<T>::deregister_worker(worker_state& worker) noexcept {
  // Every channel hears that the worker is gone before its id is free again, so a new worker
  // of that id inherits none of its intents.
  parts_.workers.remove(worker, [this](int id) {
    try {
      for (auto& channel : parts_.channels) channel->worker_left(id);
    } catch (...) {  // out of memory: its intents then end when the id's new worker finishes
    }
  });
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
  // the time the second completes. Without sync channels there is nothing to wait for.
  std::vector<std::uint64_t> targets;
  for (auto& channel : parts_.channels) targets.push_back(channel->rounds() + 2);
  for (std::size_t c = 0; c < parts_.channels.size(); ++c) parts_.channels[c]->wait_for_round(targets[c]);
}

template <class T>
void node_impl<T>::worker_barrier(worker_state& worker) {
  check_usable(worker, "barrier");
  parts_.worker_barrier.arrive_and_wait([this] { node_barrier(); });
}

template <class T>
void node_impl<T>::finalize(worker_state& worker) {
  check_usable(worker, "finalize");
  worker.requests().wait_all();
  ops_.deliver_arrived_pulls(worker, std::nullopt);
  wait_sync(worker);
  worker_barrier(worker);
  worker.mark_finalized();  // its clock now reads as finished: every intent has expired
}

template <class T>
void node_impl<T>::node_barrier() {
  GAPM_EXPECTS(!parts_.shut_down.load(), "barrier: the node has been shut down");
  if (parts_.net) parts_.net->barrier();
}

template <class T>
void node_impl<T>::shutdown(bool clean) noexcept {
  if (parts_.shut_down.exchange(true)) return;
  if (clean && parts_.options.print_stats) {
    try {
      std::cerr << "gapm node " << rank() << " of " << world_size() << " at shutdown:\n" + stats().summary();
    } catch (...) {  // printing is a courtesy; shutting down is not optional
    }
  }
  if (parts_.net) {
    try {
      if (clean) parts_.net->shutdown_barrier();  // nobody leaves while another node may still ask it
    } catch (const std::exception&) {
      clean = false;  // the cluster already failed: leave without ceremony
    }
    for (auto& channel : parts_.channels) channel->stop();
    parts_.net->leave(clean);
  }
  const auto reason = std::make_exception_ptr(logic_error("gapm: the node was shut down"));
  parts_.worker_barrier.break_all(reason);
  parts_.workers.fail_all(reason);
}

template <class T>
Stats node_impl<T>::stats() const {
  Stats s;
  const_cast<worker_registry&>(parts_.workers).add_counters(s);
  s.slots_used = parts_.rows.slots_used();
  s.slots_capacity = parts_.rows.slots_capacity();
  s.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - parts_.started).count();
  const thread_cpu cpu = measure_thread_cpu();
  s.cpu_process_s = cpu.process;
  s.cpu_sync_s = cpu.sync;
  s.cpu_receive_s = cpu.receive;
  s.cpu_liveness_s = cpu.liveness;
  s.cpu_transport_s = cpu.transport;
  if (parts_.net) {
    const auto& t = parts_.net->traffic();
    s.messages_sent = t.messages_sent.load();
    s.messages_received = t.messages_received.load();
    s.bytes_sent = t.bytes_sent.load();
    s.bytes_received = t.bytes_received.load();
    s.malformed_messages = t.malformed.load();
    s.plane_bytes_sent = t.plane_bytes_sent.load();
    s.plane_bytes_received = t.plane_bytes_received.load();
    s.rejected_frames = parts_.net->rejected_frames();
    s.remote_answers = parts_.remote_answers.load();
    s.forward_hops = parts_.forward_hops.load();
  }
  s.replicas_created = parts_.sync.replicas_created.load();
  s.replicas_dropped = parts_.sync.replicas_dropped.load();
  s.relocations = parts_.sync.relocations.load();
  s.deltas_sent = parts_.sync.deltas_sent.load();
  s.plane_delta_bytes_sent = parts_.sync.plane_delta_bytes.load();
  s.replica_rounds = parts_.sync.replica_rounds.load();
  for (const auto& channel : parts_.channels) {
    s.sync_rounds += channel->rounds();
    s.intent_entries += channel->intent_entries();
    s.intent_bytes += channel->intent_bytes();
  }
  if (!parts_.channels.empty() && s.uptime_s > 0)
    s.sync_rounds_per_sec = static_cast<double>(s.sync_rounds) / s.uptime_s / static_cast<double>(parts_.channels.size());
  return s;
}

template class node_impl<float>;
template class node_impl<double>;
template class node_impl<std::int64_t>;

}  // namespace gapm::detail
