// The receive side of the node (runs on the cluster's receive thread): serve the pull, push
// and set requests of peers from the local store, forward keys held elsewhere, and apply the
// answers to this node's own requests. Every payload is validated before it touches memory;
// a malformed one throws, and the cluster drops and counts it.
#include <chrono>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>

#include <gapm/errors.hpp>

#include "host/expects.hpp"
#include "host/memory_space.hpp"
#include "host/node_impl.hpp"

namespace gapm::detail {
namespace {

[[noreturn]] void malformed(const std::string& what) { throw std::runtime_error(what); }

// A request for a key that is on its way to this node (the directory already says so) is
// tried again after this pause rather than bounced around.
constexpr auto retry_after = std::chrono::milliseconds(1);

}  // namespace

template <class T>
void node_impl<T>::on_message(wire::message&& message) {
  switch (message.kind()) {
    case wire::kind::pull_request: return serve_pull(message);
    case wire::kind::push_request:
    case wire::kind::set_request: return serve_write(message);
    case wire::kind::pull_response: return apply_pull_response(message);
    case wire::kind::write_ack: return apply_write_ack(message);
    case wire::kind::sync_request:
    case wire::kind::sync_response:
    case wire::kind::directory_update: {
      const int channel = message.head.worker;
      if (channel < 0 || channel >= static_cast<int>(sync_managers_.size())) malformed("sync message for no channel");
      return sync_managers_[static_cast<std::size_t>(channel)]->enqueue(std::move(message));
    }
    default: malformed("unexpected message kind " + std::to_string(message.head.kind));
  }
}

template <class T>
void node_impl<T>::defer(wire::message&& message, std::chrono::milliseconds delay) {
  std::lock_guard guard{deferred_mutex_};
  deferred_.emplace_back(std::chrono::steady_clock::now() + delay, std::move(message));
}

template <class T>
void node_impl<T>::on_idle() {
  std::vector<wire::message> due;
  {
    std::lock_guard guard{deferred_mutex_};
    const auto now = std::chrono::steady_clock::now();
    for (auto it = deferred_.begin(); it != deferred_.end();)
      if (it->first <= now) {
        due.push_back(std::move(it->second));
        it = deferred_.erase(it);
      } else {
        ++it;
      }
  }
  for (auto& message : due) on_message(std::move(message));
}

template <class T>
void node_impl<T>::on_failure(const std::string& reason) {
  const auto failure = std::make_exception_ptr(comm_error(reason));
  worker_barrier_.break_all(failure);
  std::lock_guard guard{workers_mutex_};
  for (auto& worker : workers_)
    if (worker) worker->requests().fail(failure);
}

template <class T>
worker_state* node_impl<T>::find_worker(int id) {
  if (id < 0 || id >= options_.workers) return nullptr;
  return workers_[static_cast<std::size_t>(id)].get();
}

template <class T>
void node_impl<T>::serve_pull(const wire::message& message) {
  const wire::header& head = message.head;
  wire::payload_reader in(message.payload);
  auto keys = in.read<key_type>(head.count);
  auto positions = in.read<std::uint32_t>(head.count);
  if (!keys || !positions || in.remaining() != 0) malformed("pull request: payload is not count keys + positions");
  if (head.origin < 0 || head.origin >= env_.world_size || head.worker < 0 || head.worker >= options_.workers)
    malformed("pull request: bad origin node or worker");
  for (key_type k : *keys)
    if (k >= keys_.num_keys()) malformed(concat("pull request: key ", k, " is out of range"));

  // Serve what is readable here (a main copy or a ready replica), pass the rest on.
  std::shared_lock structure{structure_mutex_};
  std::vector<key_type> held;
  std::vector<std::uint32_t> held_positions;
  std::vector<std::vector<key_type>> keys_to(static_cast<std::size_t>(env_.world_size));
  std::vector<std::vector<std::uint32_t>> positions_to(keys_to.size());
  std::vector<key_type> later;
  std::vector<std::uint32_t> later_positions;
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const key_type k = (*keys)[i];
    if (is_local(k)) {
      held.push_back(k);
      held_positions.push_back((*positions)[i]);
    } else if (const int to = forward_target(k); to < 0) {
      later.push_back(k);
      later_positions.push_back((*positions)[i]);
    } else {
      keys_to[static_cast<std::size_t>(to)].push_back(k);
      positions_to[static_cast<std::size_t>(to)].push_back((*positions)[i]);
    }
  }
  if (!held.empty()) {
    std::size_t values = 0;
    for (key_type k : held) values += keys_.row_length_of(k);
    std::vector<T> rows(values);
    gather_rows(held.data(), held.size(), rows.data());
    wire::header answer{.kind = static_cast<std::uint16_t>(wire::kind::pull_response),
                        .origin = head.origin,
                        .worker = head.worker,
                        .hops = head.hops,
                        .request = head.request,
                        .count = held.size()};
    (void)deliver(head.origin, answer, held_positions, rows);  // a dead origin fails the cluster anyway
  }
  structure.unlock();
  for (std::size_t to = 0; to < keys_to.size(); ++to) {
    if (keys_to[to].empty()) continue;
    wire::header forward = head;
    forward.hops = static_cast<std::uint16_t>(head.hops + 1);
    forward.count = keys_to[to].size();
    (void)cluster_->send(static_cast<int>(to), forward, keys_to[to], positions_to[to]);
  }
  if (!later.empty()) {
    wire::header retry = head;
    retry.count = later.size();
    defer(wire::make_message(retry, later, later_positions), retry_after);
  }
}

template <class T>
void node_impl<T>::serve_write(const wire::message& message) {
  const wire::header& head = message.head;
  const auto kind = message.kind() == wire::kind::push_request ? write_kind::add : write_kind::assign;
  wire::payload_reader in(message.payload);
  auto keys = in.read<key_type>(head.count);
  if (!keys) malformed("write request: payload holds fewer than count keys");
  std::vector<std::size_t> offsets(keys->size() + 1, 0);
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const key_type k = (*keys)[i];
    if (k >= keys_.num_keys()) malformed(concat("write request: key ", k, " is out of range"));
    offsets[i + 1] = offsets[i] + keys_.row_length_of(k);
  }
  auto rows = in.read<T>(offsets.back());
  if (!rows || in.remaining() != 0) malformed("write request: the rows do not match the keys' row lengths");
  if (head.origin < 0 || head.origin >= env_.world_size || head.worker < 0 || head.worker >= options_.workers)
    malformed("write request: bad origin node or worker");

  // Apply what may be written here, pass the rest on (it is acknowledged where it lands).
  const auto p = static_cast<std::size_t>(env_.rank);
  std::vector<std::vector<key_type>> keys_to(static_cast<std::size_t>(env_.world_size) + 1);  // last: retry
  std::vector<std::vector<T>> rows_to(keys_to.size());
  std::shared_lock structure{structure_mutex_};
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const key_type k = (*keys)[i];
    const int to = writable(kind, k) ? env_.rank : forward_target(k);
    const auto slot = to < 0 ? keys_to.size() - 1 : static_cast<std::size_t>(to);
    keys_to[slot].push_back(k);
    rows_to[slot].insert(rows_to[slot].end(), rows->begin() + static_cast<std::ptrdiff_t>(offsets[i]),
                         rows->begin() + static_cast<std::ptrdiff_t>(offsets[i + 1]));
  }
  if (!keys_to[p].empty()) {
    write_rows(kind, keys_to[p].data(), keys_to[p].size(), rows_to[p].data());
    bump_versions(keys_to[p].data(), keys_to[p].size());
  }
  structure.unlock();
  if (!keys_to[p].empty()) {
    wire::header ack{.kind = static_cast<std::uint16_t>(wire::kind::write_ack),
                     .origin = head.origin,
                     .worker = head.worker,
                     .hops = head.hops,
                     .request = head.request,
                     .count = keys_to[p].size()};
    (void)deliver(head.origin, ack);
  }
  for (std::size_t to = 0; to + 1 < keys_to.size(); ++to) {
    if (to == p || keys_to[to].empty()) continue;
    wire::header forward = head;
    forward.hops = static_cast<std::uint16_t>(head.hops + 1);
    forward.count = keys_to[to].size();
    (void)cluster_->send(static_cast<int>(to), forward, keys_to[to], rows_to[to]);
  }
  if (!keys_to.back().empty()) {
    wire::header retry = head;
    retry.count = keys_to.back().size();
    defer(wire::make_message(retry, keys_to.back(), rows_to.back()), retry_after);
  }
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
  worker->requests().answer(head.request, head.count);
}

template <class T>
void node_impl<T>::apply_write_ack(const wire::message& message) {
  if (!message.payload.empty()) malformed("write ack: unexpected payload");
  std::lock_guard workers_guard{workers_mutex_};
  worker_state* worker = find_worker(message.head.worker);
  if (worker == nullptr) return;
  remote_answers_.fetch_add(1, std::memory_order_relaxed);
  forward_hops_.fetch_add(message.head.hops, std::memory_order_relaxed);
  worker->requests().answer(message.head.request, message.head.count);
}

#define GAPM_INSTANTIATE_NODE_SERVE(T)                                          \
  template void node_impl<T>::on_message(wire::message&&);                      \
  template void node_impl<T>::on_idle();                                        \
  template void node_impl<T>::defer(wire::message&&, std::chrono::milliseconds); \
  template void node_impl<T>::on_failure(const std::string&);                   \
  template worker_state* node_impl<T>::find_worker(int);                        \
  template void node_impl<T>::serve_pull(const wire::message&);                 \
  template void node_impl<T>::serve_write(const wire::message&);                \
  template void node_impl<T>::apply_pull_response(const wire::message&);        \
  template void node_impl<T>::apply_write_ack(const wire::message&);

GAPM_INSTANTIATE_NODE_SERVE(float)
GAPM_INSTANTIATE_NODE_SERVE(double)
GAPM_INSTANTIATE_NODE_SERVE(std::int64_t)
#undef GAPM_INSTANTIATE_NODE_SERVE

}  // namespace gapm::detail
