// The receive side of the node (runs on the cluster's receive thread): serve the pull, push
// and set requests of peers from the local store, forward keys held elsewhere, and apply the
// answers to this node's own requests. Every payload is validated before it touches memory:
// a malformed one throws wire::malformed_message, and the cluster drops and counts it. Any
// other exception fails the cluster (see message_handler).
#include <chrono>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>

#include <gapm/errors.hpp>

#include "host/adaptive/batch_routes.hpp"
#include "host/common/expects.hpp"
#include "host/store/memory_space.hpp"
#include "host/runtime/node_impl.hpp"

namespace gapm::detail {
namespace {

[[noreturn]] void malformed(const std::string& what) { throw wire::malformed_message(what); }

}  // namespace

template <class T>
void node_impl<T>::on_message(wire::message&& message) {
  switch (message.kind()) {
    case wire::kind::pull_request: return serve_pull(message);
    case wire::kind::push_request:
    case wire::kind::set_request: return serve_write(message);
    case wire::kind::pull_response: return apply_pull_response(message);
    case wire::kind::write_ack: return apply_write_ack(message);
    case wire::kind::directory_update: return apply_directory_update(message);
    case wire::kind::sync_request:
    case wire::kind::sync_response: {
      const int channel = message.head.worker;
      if (channel < 0 || channel >= static_cast<int>(sync_managers_.size())) malformed("sync message for no channel");
      return sync_managers_[static_cast<std::size_t>(channel)]->enqueue(std::move(message));
    }
    default: malformed(concat("unexpected message kind ", wire::kind_name(message.head.kind)));
  }
}

template <class T>
void node_impl<T>::on_idle() {
  for (auto& message : parked_.take_due()) {  // one at a time: a malformed one must not take the others along
    const int sender = message.head.sender;
    if (!cluster_->guarded(wire::kind_name(message.head.kind), sender, [&] { on_message(std::move(message)); }))
      return;
  }
}

template <class T>
void node_impl<T>::on_failure(const std::string& reason) {
  const auto failure = std::make_exception_ptr(comm_error(reason));
  worker_barrier_.break_all(failure);
  std::lock_guard guard{workers_mutex_};
  for (auto& worker : workers_)
    if (worker) worker->fail_requests(failure);
}

template <class T>
worker_state* node_impl<T>::find_worker(int id) {
  if (id < 0 || id >= options_.workers) return nullptr;
  return workers_[static_cast<std::size_t>(id)].get();
}

template <class T>
std::vector<std::int64_t> node_impl<T>::read_hints(wire::payload_reader& in, const wire::header& head) const {
  if (!head.carries_hints()) return std::vector<std::int64_t>(head.count, no_hint);
  auto hints = in.read<std::int64_t>(head.count);
  if (!hints) malformed(concat(wire::kind_name(head.kind), ": payload holds fewer than count routing hints"));
  return std::move(*hints);
}

template <class T>
void node_impl<T>::check_origin(const wire::header& head) const {
  if (head.origin < 0 || head.origin >= env_.world_size || head.worker < 0 || head.worker >= options_.workers)
    malformed(concat(wire::kind_name(head.kind), ": bad origin node or worker"));
}

template <class T>
void node_impl<T>::pass_on(const wire::header& head, const batch_routes& routes, std::span<const key_type> keys,
                           std::span<const std::int64_t> hints, const auto& pick_payload) {
  for (std::size_t to = 0; to < routes.to.size(); ++to) {
    const auto& picks = routes.to[to];
    if (picks.empty()) continue;
    wire::header next = wire::forwarded(head, keys[picks.front()]);
    next.flags = static_cast<std::uint8_t>(next.flags | wire::has_hints);
    next.count = picks.size();
    (void)cluster_->send(static_cast<int>(to), next, pick(keys, picks), pick_payload(picks), routes.hints_to[to]);
  }
  if (!routes.parked.empty()) {
    wire::header wait = wire::parked(head, keys[routes.parked.front()]);
    wait.flags = static_cast<std::uint8_t>(wait.flags | wire::has_hints);
    wait.count = routes.parked.size();
    wait.sender = env_.rank;
    parked_.park(wire::make_message(wait, pick(keys, routes.parked), pick_payload(routes.parked),
                                    pick(hints, routes.parked)));
  }
}

template <class T>
void node_impl<T>::serve_pull(const wire::message& message) {
  const wire::header& head = message.head;
  wire::payload_reader in(message.payload);
  auto keys = in.read<key_type>(head.count);
  auto positions = in.read<std::uint32_t>(head.count);
  if (!keys || !positions) malformed("pull request: payload is not count keys + positions: " + wire::describe(message));
  const auto hints = read_hints(in, head);
  if (in.remaining() != 0) malformed("pull request: payload longer than announced");
  check_origin(head);
  for (key_type k : *keys)
    if (k >= keys_.num_keys()) malformed(concat("pull request: key ", k, " is out of range"));

  // Serve what this node holds, pass the rest on: another node's pull is served by the main
  // copy only, since a replica here may not yet have the writes its worker has flushed.
  const bool from_elsewhere = head.origin != env_.rank;
  std::shared_lock structure{structure_mutex_};
  const batch_routes routes(*states_, env_.world_size, *keys, hints,
                            [&](key_type k) { return from_elsewhere ? owns(k) : is_local(k); });
  if (!routes.here.empty()) {
    const auto held = pick<key_type>(*keys, routes.here);
    std::size_t values = 0;
    for (key_type k : held) values += keys_.row_length_of(k);
    std::vector<T> rows(values);
    gather_rows(held.data(), held.size(), rows.data());
    wire::header answer{.kind = static_cast<std::uint8_t>(wire::kind::pull_response),
                        .origin = head.origin,
                        .worker = head.worker,
                        .hops = head.hops,
                        .request = head.request,
                        .count = held.size()};
    (void)deliver(head.origin, answer, pick<std::uint32_t>(*positions, routes.here), rows);  // a dead origin fails the cluster anyway
  }
  structure.unlock();
  pass_on(head, routes, *keys, hints,
          [&](std::span<const std::uint32_t> picks) { return pick<std::uint32_t>(*positions, picks); });
}

template <class T>
void node_impl<T>::serve_write(const wire::message& message) {
  const wire::header& head = message.head;
  const auto kind = message.kind() == wire::kind::push_request ? write_kind::add : write_kind::assign;
  wire::payload_reader in(message.payload);
  auto keys = in.read<key_type>(head.count);
  if (!keys) malformed("write request: payload holds fewer than count keys: " + wire::describe(message));
  std::vector<std::size_t> offsets(keys->size() + 1, 0);
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const key_type k = (*keys)[i];
    if (k >= keys_.num_keys()) malformed(concat("write request: key ", k, " is out of range"));
    offsets[i + 1] = offsets[i] + keys_.row_length_of(k);
  }
  auto rows = in.read<T>(offsets.back());
  if (!rows) malformed("write request: the rows do not match the keys' row lengths");
  const auto hints = read_hints(in, head);
  if (in.remaining() != 0) malformed("write request: payload longer than announced");
  check_origin(head);

  // Apply what may be written here, pass the rest on (it is acknowledged where it lands).
  // Another node's write goes to the main copy, never into a replica here: acknowledged, it
  // must be part of the main copy, or its writer's wait_sync() would not cover it.
  const bool from_elsewhere = head.origin != env_.rank;
  std::shared_lock structure{structure_mutex_};
  const batch_routes routes(*states_, env_.world_size, *keys, hints,
                            [&](key_type k) { return from_elsewhere ? owns(k) : writable(kind, k); });
  if (!routes.here.empty()) {
    const auto here = pick<key_type>(*keys, routes.here);
    write_rows(kind, here.data(), here.size(), pick_rows<T>(*rows, offsets, routes.here).data());
    bump_versions(here.data(), here.size());
  }
  structure.unlock();
  if (!routes.here.empty()) {
    wire::header ack{.kind = static_cast<std::uint8_t>(wire::kind::write_ack),
                     .origin = head.origin,
                     .worker = head.worker,
                     .hops = head.hops,
                     .request = head.request,
                     .count = routes.here.size()};
    (void)deliver(head.origin, ack);
  }
  pass_on(head, routes, *keys, hints,
          [&](std::span<const std::uint32_t> picks) { return pick_rows<T>(*rows, offsets, picks); });
}

template <class T>
void node_impl<T>::apply_directory_update(const wire::message& message) {
  wire::payload_reader in(message.payload);
  auto keys = in.read<key_type>(message.head.count);
  auto owners = in.read<int>(message.head.count);
  auto counters = in.read<std::int64_t>(message.head.count);
  if (!keys || !owners || !counters || in.remaining() != 0) malformed("directory update: arrays do not match count");
  for (std::size_t i = 0; i < keys->size(); ++i) {
    if ((*keys)[i] >= keys_.num_keys() || states_->home_of((*keys)[i]) != env_.rank)
      malformed("directory update: a key this node is not home for");
    if ((*owners)[i] < 0 || (*owners)[i] >= env_.world_size) malformed("directory update: owner out of range");
  }
  for (std::size_t i = 0; i < keys->size(); ++i) states_->update_owner((*keys)[i], (*owners)[i], (*counters)[i]);
  parked_.wake();  // requests waiting for this news go on
}

template <class T>
void node_impl<T>::apply_pull_response(const wire::message& message) {
  const wire::header& head = message.head;
  wire::payload_reader in(message.payload);
  auto positions = in.read<std::uint32_t>(head.count);
  if (!positions) malformed("pull response: payload holds fewer than count positions");
  std::lock_guard workers_guard{workers_mutex_};
  worker_state* worker = find_worker(head.worker);
  if (worker == nullptr) return;  // the worker is gone: nobody waits for these rows
  {
    std::lock_guard guard{worker->pending_mutex()};
    auto it = worker->pending_pulls().find(head.request);
    if (it == worker->pending_pulls().end()) return;  // a late answer to a failed request
    pending_pull& pull = it->second;
    std::size_t values = 0;
    for (std::uint32_t p : *positions) {
      if (p >= pull.keys.size()) malformed("pull response: position out of range");
      values += pull.offsets[p + 1] - pull.offsets[p];
    }
    auto rows = in.read<T>(values);
    if (!rows || in.remaining() != 0 || head.count > pull.remaining)
      malformed("pull response: the rows do not match the requested keys");
    const T* row = rows->data();
    for (std::uint32_t p : *positions) {
      const std::size_t length = pull.offsets[p + 1] - pull.offsets[p];
      std::memcpy(pull.out + pull.offsets[p] * sizeof(T), row, length * sizeof(T));
      row += length;
      if (states_ && states_->home_of(pull.keys[p]) != env_.rank) states_->cache_location(pull.keys[p], head.sender);
    }
    pull.remaining -= head.count;
    if (pull.remaining == 0) {
      if (pull.device_out != nullptr) copy_from_host(pull.device_out, pull.staging.data(), pull.staging.size());
      worker->pending_pulls().erase(it);
    }
  }
  remote_answers_.fetch_add(1, std::memory_order_relaxed);
  forward_hops_.fetch_add(head.hops, std::memory_order_relaxed);
  (void)worker->requests().answer(head.request, head.count);  // checked against pull.remaining above
}

template <class T>
void node_impl<T>::apply_write_ack(const wire::message& message) {
  if (!message.payload.empty()) malformed("write ack: unexpected payload");
  std::lock_guard workers_guard{workers_mutex_};
  worker_state* worker = find_worker(message.head.worker);
  if (worker == nullptr) return;
  if (worker->requests().answer(message.head.request, message.head.count) == request_tracker::credit::excessive)
    malformed(concat("write ack: acknowledges ", message.head.count, " keys, more than request ",
                     message.head.request, " waits for"));
  remote_answers_.fetch_add(1, std::memory_order_relaxed);
  forward_hops_.fetch_add(message.head.hops, std::memory_order_relaxed);
}

#define GAPM_INSTANTIATE_NODE_SERVE(T)                                                                         \
  template void node_impl<T>::on_message(wire::message&&);                                                     \
  template void node_impl<T>::on_idle();                                                                       \
  template void node_impl<T>::on_failure(const std::string&);                                                  \
  template worker_state* node_impl<T>::find_worker(int);                                                       \
  template void node_impl<T>::serve_pull(const wire::message&);                                                \
  template void node_impl<T>::serve_write(const wire::message&);                                               \
  template void node_impl<T>::apply_pull_response(const wire::message&);                                       \
  template void node_impl<T>::apply_write_ack(const wire::message&);                                           \
  template void node_impl<T>::apply_directory_update(const wire::message&);

GAPM_INSTANTIATE_NODE_SERVE(float)
GAPM_INSTANTIATE_NODE_SERVE(double)
GAPM_INSTANTIATE_NODE_SERVE(std::int64_t)
#undef GAPM_INSTANTIATE_NODE_SERVE

}  // namespace gapm::detail
