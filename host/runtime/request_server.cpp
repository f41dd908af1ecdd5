#include "host/runtime/request_server.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>

#include <gapm/errors.hpp>

#include "host/adaptive/batch_routes.hpp"
#include "host/adaptive/sync_messages.hpp"
#include "host/common/expects.hpp"
#include "host/runtime/plane_rows.hpp"
#include "host/runtime/pull_staging.hpp"
#include "host/runtime/step_request.hpp"
#include "host/store/memory_space.hpp"

namespace gapm::detail {
namespace {

[[noreturn]] void malformed(const std::string& what) { throw wire::malformed_message(what); }

}  // namespace

template <class T>
void request_server<T>::on_message(wire::message&& message) {
  switch (message.kind()) {
    case wire::kind::pull_request: return serve_pull(message);
    case wire::kind::push_request:
    case wire::kind::set_request: return serve_write(message);
    case wire::kind::step_request: return serve_step(message);
    case wire::kind::pull_response: return apply_pull_response(message);
    case wire::kind::write_ack: return apply_write_ack(message);
    case wire::kind::directory_update: return apply_directory_update(message);
    case wire::kind::sync_request:
    case wire::kind::sync_response: {
      const int channel = message.head.channel();
      if (channel < 0 || channel >= static_cast<int>(node_.channels.size())) malformed("sync message for no channel");
      return node_.channels[static_cast<std::size_t>(channel)]->enqueue(std::move(message));
    }
    default: malformed(concat("unexpected message kind ", wire::kind_name(message.head.kind)));
  }
}

template <class T>
std::chrono::milliseconds request_server<T>::on_idle() {
  for (auto& message : node_.parked.take_due()) {  // one at a time: a malformed one must not take the others along
    const int sender = message.head.sender;
    if (!node_.net->guarded(wire::kind_name(message.head.kind), sender, [&] { on_message(std::move(message)); }))
      return std::chrono::milliseconds{0};
  }
  // Until the next parked message is due, rounded up (a wait that ends a little early only
  // costs a turn); parking or waking the lot cuts the wait short (node_impl sets the notifier).
  const auto next = node_.parked.time_to_next_due(std::chrono::milliseconds{50});
  return std::chrono::ceil<std::chrono::milliseconds>(next);
}

template <class T>
void request_server<T>::on_failure(const std::string& reason) {
  const auto failure = std::make_exception_ptr(comm_error(reason));
  node_.worker_barrier.break_all(failure);
  node_.workers.fail_all(failure);
}

template <class T>
std::vector<std::int64_t> request_server<T>::read_hints(wire::payload_reader& in, const wire::header& head) const {
  if (!head.carries_hints()) return std::vector<std::int64_t>(head.count, no_hint);
  auto hints = in.read<std::int64_t>(head.count);
  if (!hints) malformed(concat(wire::kind_name(head.kind), ": payload holds fewer than count routing hints"));
  return std::move(*hints);
}

template <class T>
void request_server<T>::check_origin(const wire::header& head) const {
  if (head.origin < 0 || head.origin >= node_.world_size() || head.worker < 0 || head.worker >= node_.options.workers)
    malformed(concat(wire::kind_name(head.kind), ": bad origin node or worker"));
}

template <class T>
void request_server<T>::pass_on(const wire::header& head, const batch_routes& routes, std::span<const key_type> keys,
                           std::span<const std::int64_t> hints, const auto& pick_payload) {
  for (std::size_t to = 0; to < routes.to.size(); ++to) {
    const auto& picks = routes.to[to];
    if (picks.empty()) continue;
    wire::header next = wire::forwarded(head, keys[picks.front()]);
    next.flags = static_cast<std::uint8_t>(next.flags | wire::has_hints);
    next.count = picks.size();
    (void)node_.send(static_cast<int>(to), wire::encode(next, pick(keys, picks), pick_payload(picks), routes.hints_to[to]));
  }
  if (!routes.parked.empty()) {
    wire::header wait = wire::parked(head, keys[routes.parked.front()]);
    wait.flags = static_cast<std::uint8_t>(wait.flags | wire::has_hints);
    wait.count = routes.parked.size();
    wait.sender = node_.rank();
    node_.parked.park(wire::make_message(wait, pick(keys, routes.parked), pick_payload(routes.parked),
                                    pick(hints, routes.parked)));
  }
}

template <class T>
void request_server<T>::serve_pull(const wire::message& message) {
  const wire::header& head = message.head;
  wire::payload_reader in(message.payload);
  auto keys = in.read<key_type>(head.count);
  auto positions = in.read<std::uint32_t>(head.count);
  if (!keys || !positions) malformed("pull request: payload is not count keys + positions: " + wire::describe(message));
  const auto hints = read_hints(in, head);
  if (in.remaining() != 0) malformed("pull request: payload longer than announced");
  check_origin(head);
  for (key_type k : *keys)
    if (k >= node_.keys.num_keys()) malformed(concat("pull request: key ", k, " is out of range"));

  // Serve what this node holds, pass the rest on: another node's pull is served by the main
  // copy only, since a replica here may not yet have the writes its worker has flushed.
  const bool from_elsewhere = head.origin != node_.rank();
  std::shared_lock structure{node_.structure};
  const batch_routes routes(*node_.states, node_.world_size(), *keys, hints,
                            [&](key_type k) { return from_elsewhere ? node_.owns(k) : node_.readable(k); });
  if (!routes.here.empty()) {
    const auto held = pick<key_type>(*keys, routes.here);
    std::size_t values = 0;
    for (key_type k : held) values += node_.keys.row_length_of(k);
    wire::header answer{.kind = static_cast<std::uint8_t>(wire::kind::pull_response),
                        .origin = head.origin,
                        .worker = head.worker,
                        .hops = head.hops,
                        .request = head.ticket(),
                        .count = held.size()};
    const auto positions_here = pick<std::uint32_t>(*positions, routes.here);
    if (row_plane* plane = head.origin != node_.rank() ? node_.net->plane() : nullptr; plane && values > 0) {
      // The rows go GPU to GPU: gathered into a device buffer on this thread's stream.
      device_scope on_device{plane->runtime(), plane->device()};
      device_buffer<std::byte> rows(plane->runtime(), values * sizeof(T), nullptr);
      node_.rows.gather(held.data(), held.size(), reinterpret_cast<T*>(rows.data()));
      if (gathered_.get() == nullptr) gathered_ = owned_event{plane->runtime(), plane->device()};
      plane->runtime().record(gathered_.get(), nullptr);
      (void)node_.net->send_frame_with_rows(head.origin, wire::encode(answer, positions_here), std::move(rows),
                                            values * sizeof(T), gathered_.get());
    } else {
      pinned_vector<T> rows(values);
      node_.rows.gather(held.data(), held.size(), rows.data());
      (void)node_.send(head.origin, wire::encode(answer, positions_here, rows));
    }
  }
  structure.unlock();
  pass_on(head, routes, *keys, hints,
          [&](std::span<const std::uint32_t> picks) { return pick<std::uint32_t>(*positions, picks); });
}

template <class T>
void request_server<T>::serve_write(const wire::message& message) {
  const wire::header& head = message.head;
  const auto kind = message.kind() == wire::kind::push_request ? write_kind::add : write_kind::assign;
  wire::payload_reader in(message.payload);
  auto keys = in.read<key_type>(head.count);
  if (!keys) malformed("write request: payload holds fewer than count keys: " + wire::describe(message));
  std::vector<std::size_t> offsets(keys->size() + 1, 0);
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const key_type k = (*keys)[i];
    if (k >= node_.keys.num_keys()) malformed(concat("write request: key ", k, " is out of range"));
    offsets[i + 1] = offsets[i] + node_.keys.row_length_of(k);
  }
  incoming_rows<T> rows(message, in, offsets.back(), *node_.net);
  const auto hints = read_hints(in, head);
  if (in.remaining() != 0) malformed("write request: payload longer than announced");
  check_origin(head);

  // Apply what may be written here, pass the rest on (it is acknowledged where it lands).
  // Another node's write goes to the main copy, never into a replica here: acknowledged, it
  // must be part of the main copy, or its writer's wait_sync() would not cover it.
  const bool from_elsewhere = head.origin != node_.rank();
  std::shared_lock structure{node_.structure};
  const batch_routes routes(*node_.states, node_.world_size(), *keys, hints,
                            [&](key_type k) { return from_elsewhere ? node_.owns(k) : node_.writable(kind, k); });
  if (!routes.here.empty()) {
    const auto here = pick<key_type>(*keys, routes.here);
    // Rows that came on the data plane are written from the device when all are for here.
    const bool from_device = rows.device() != nullptr && routes.here.size() == keys->size();
    pinned_vector<T> here_rows;
    if (!from_device) here_rows = pick_rows<T, pinned_vector<T>>(rows.host(), offsets, routes.here);
    const T* values = from_device ? rows.device() : here_rows.data();
    if (kind == write_kind::add) node_.rows.add(here.data(), here.size(), values);
    else node_.rows.assign(here.data(), here.size(), values);
    if (from_device) node_.rows.synchronize({});  // in the main copy before it is acknowledged
    node_.bump_versions(here.data(), here.size());
  }
  structure.unlock();
  acknowledge(head, routes.here.size());
  pass_on(head, routes, *keys, hints,
          [&](std::span<const std::uint32_t> picks) { return pick_rows<T>(rows.host(), offsets, picks); });
}

template <class T>
void request_server<T>::acknowledge(const wire::header& head, std::size_t keys) {
  if (keys == 0) return;
  const wire::header ack{.kind = static_cast<std::uint8_t>(wire::kind::write_ack),
                         .origin = head.origin,
                         .worker = head.worker,
                         .hops = head.hops,
                         .request = head.ticket(),
                         .count = keys};
  (void)node_.send(head.origin, wire::encode(ack));
}

template <class T>
void request_server<T>::serve_step(const wire::message& message) {
  const wire::header& head = message.head;
  wire::payload_reader in(message.payload);
  auto params = in.read<optimizer_step>(1);
  auto keys = in.read<key_type>(head.count);
  if (!params || !keys) malformed("step request: payload holds fewer than count keys: " + wire::describe(message));
  const optimizer_step& step = params->front();
  std::vector<std::size_t> offsets(keys->size() + 1, 0);
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const key_type k = (*keys)[i];
    if (k >= node_.keys.num_keys()) malformed(concat("step request: key ", k, " is out of range"));
    if (auto problem = step_problem<T>(step, node_.keys.row_length_of(k)); !problem.empty())
      malformed("step request: " + problem);
    offsets[i + 1] = offsets[i] + node_.keys.row_length_of(k) / step.row_factor();
  }
  // The sender merged repeated keys (a step applied twice is wrong): sorted, in O(n log n).
  std::vector<key_type> sorted;
  sorted.assign(keys->begin(), keys->end());
  std::sort(sorted.begin(), sorted.end());
  if (const auto twice = std::adjacent_find(sorted.begin(), sorted.end()); twice != sorted.end())
    malformed(concat("step request: key ", *twice, " is repeated"));
  incoming_rows<T> grads(message, in, offsets.back(), *node_.net);
  const auto hints = read_hints(in, head);
  if (in.remaining() != 0) malformed("step request: payload longer than announced");
  check_origin(head);

  // Like a push: another node's step goes to the main copy.
  const bool from_elsewhere = head.origin != node_.rank();
  std::shared_lock structure{node_.structure};
  const batch_routes routes(*node_.states, node_.world_size(), *keys, hints, [&](key_type k) {
    return from_elsewhere ? node_.owns(k) : node_.writable(write_kind::add, k);
  });
  if (!routes.here.empty()) {
    const auto here = pick<key_type>(*keys, routes.here);
    const bool from_device = grads.device() != nullptr && routes.here.size() == keys->size();
    pinned_vector<T> here_grads;
    if (!from_device) here_grads = pick_rows<T, pinned_vector<T>>(grads.host(), offsets, routes.here);
    node_.rows.apply_step(here.data(), here.size(), from_device ? grads.device() : here_grads.data(),
                          step_constants<T>::make(step));
    if (from_device) node_.rows.synchronize({});  // in the main copy before it is acknowledged
    node_.bump_versions(here.data(), here.size());
  }
  structure.unlock();
  acknowledge(head, routes.here.size());
  for (std::size_t to = 0; to < routes.to.size(); ++to) {
    const auto& picks = routes.to[to];
    if (picks.empty()) continue;
    (void)node_.send(static_cast<int>(to),
                     encode_step<T>(wire::forwarded(head, (*keys)[picks.front()]), step, pick<key_type>(*keys, picks),
                                    pick_rows<T>(grads.host(), offsets, picks), routes.hints_to[to]));
  }
  if (!routes.parked.empty()) {
    wire::header wait = wire::parked(head, (*keys)[routes.parked.front()]);
    wait.sender = node_.rank();
    auto parked_hints = pick(std::span<const std::int64_t>(hints), routes.parked);
    node_.parked.park(wire::local_message(encode_step<T>(wait, step, pick<key_type>(*keys, routes.parked),
                                                         pick_rows<T>(grads.host(), offsets, routes.parked), parked_hints)));
  }
}

template <class T>
void request_server<T>::apply_directory_update(const wire::message& message) {
  if (!node_.states) malformed("directory update to a single node");
  const auto update = directory_update::decode(message, node_.keys, node_.rank(), node_.world_size());
  for (std::size_t i = 0; i < update.keys.size(); ++i)
    node_.states->update_owner(update.keys[i], update.owners[i], update.counters[i]);
  node_.parked.wake();  // requests waiting for this news go on
}

template <class T>
void request_server<T>::answered(const wire::header& head) {
  node_.remote_answers.fetch_add(1, std::memory_order_relaxed);
  node_.forward_hops.fetch_add(head.hops, std::memory_order_relaxed);
}

template <class T>
void request_server<T>::stage_on_device(pending_pull& pull, std::span<const std::uint32_t> positions, const T* rows) {
  row_plane& plane = *node_.net->plane();
  device_scope on_device{plane.runtime(), plane.device()};
  if (!pull.device_staging)
    pull.device_staging = std::make_shared<pull_staging>(plane.runtime(), plane.device(), pull.offsets.back() * sizeof(T));
  // One copy per run of positions that lie one after another in the pull as in the answer.
  const auto* run = reinterpret_cast<const std::byte*>(rows);
  std::size_t run_at = 0, run_bytes = 0;
  for (std::uint32_t p : positions) {
    const std::size_t at = pull.offsets[p] * sizeof(T), bytes = (pull.offsets[p + 1] - pull.offsets[p]) * sizeof(T);
    if (run_bytes > 0 && run_at + run_bytes == at) {
      run_bytes += bytes;
      continue;
    }
    if (run_bytes > 0) pull.device_staging->stage(run_at, run, run_bytes);
    run += run_bytes;
    run_at = at;
    run_bytes = bytes;
  }
  if (run_bytes > 0) pull.device_staging->stage(run_at, run, run_bytes);
  plane.runtime().synchronize(nullptr);  // staged before the arrived rows go (and before delivery)
}

template <class T>
void request_server<T>::apply_pull_response(const wire::message& message) {
  const wire::header& head = message.head;
  wire::payload_reader in(message.payload);
  auto positions = in.read<std::uint32_t>(head.count);
  if (!positions) malformed("pull response: payload holds fewer than count positions");
  node_.workers.with_worker(head.worker, [&](worker_state& worker) {  // gone: nobody waits for these rows
    {
      std::lock_guard guard{worker.pending_mutex()};
      auto it = worker.pending_pulls().find(head.ticket());
      if (it == worker.pending_pulls().end()) return;  // a late answer to a failed request
      pending_pull& pull = it->second;
      std::size_t values = 0;
      for (std::uint32_t p : *positions) {
        if (p >= pull.keys.size()) malformed("pull response: position out of range");
        values += pull.offsets[p + 1] - pull.offsets[p];
      }
      incoming_rows<T> rows(message, in, values, *node_.net);
      if (in.remaining() != 0 || head.count > pull.remaining)
        malformed("pull response: the rows do not match the requested keys");
      if (rows.device() != nullptr && pull.device_out != nullptr) {
        stage_on_device(pull, *positions, rows.device());  // device to device
      } else {
        const T* row = rows.host().data();
        for (std::uint32_t p : *positions) {
          const std::size_t length = pull.offsets[p + 1] - pull.offsets[p];
          std::memcpy(pull.out + pull.offsets[p] * sizeof(T), row, length * sizeof(T));
          row += length;
        }
      }
      for (std::uint32_t p : *positions)
        if (node_.states && node_.states->home_of(pull.keys[p]) != node_.rank())
          node_.states->cache_location(pull.keys[p], head.sender);
      pull.remaining -= head.count;
      if (pull.remaining == 0) {
        // Rows for a device buffer go there from the worker's thread (in its stream order).
        if (pull.device_out != nullptr) worker.arrived_pulls().emplace(it->first, std::move(pull));
        worker.pending_pulls().erase(it);
      }
    }
    answered(head);
    (void)worker.requests().answer(head.ticket(), head.count);  // checked against pull.remaining above
  });
}

template <class T>
void request_server<T>::apply_write_ack(const wire::message& message) {
  if (!message.payload.empty()) malformed("write ack: unexpected payload");
  node_.workers.with_worker(message.head.worker, [&](worker_state& worker) {
    if (worker.requests().answer(message.head.ticket(), message.head.count) == request_tracker::credit::excessive)
      malformed(concat("write ack: acknowledges ", message.head.count, " keys, more than request ",
                       message.head.ticket(), " waits for"));
    answered(message.head);
  });
}

template class request_server<float>;
template class request_server<double>;
template class request_server<std::int64_t>;

}  // namespace gapm::detail
