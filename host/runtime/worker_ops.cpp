// worker_ops: what a worker thread does on the data path, in its order: check the call, serve
// the local keys from the store, send one request per remote node and hand out the ticket.
// This file: the writes (push/set, fused optimizer steps) and intent, whose paths share the
// same check/split/send shape; worker_pulls.cpp: pulls and the delivery of their answers.
#include "host/runtime/worker_ops.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include <gapm/errors.hpp>

#include "host/common/expects.hpp"
#include "host/runtime/plane_rows.hpp"
#include "host/runtime/pull_staging.hpp"
#include "host/runtime/step_request.hpp"
#include "host/store/memory_space.hpp"

namespace gapm::detail {

template <class T>
void worker_ops<T>::check_stream(stream_view stream) const {
  if (!stream.is_default() && node_.store != store_kind::cuda)
    throw unsupported_error("gapm: a CUDA stream was given, but this node's store is '" + std::string(node_.rows.name()) +
                            "' (streams need the CUDA build and a GPU)");
}

template <class T>
const key_type* worker_ops<T>::checked_keys(worker_state& worker, const key_type* keys, std::size_t n,
                                            const char* operation, std::optional<std::size_t> buffer_values,
                                            stream_view stream) {
  const key_type* host = keys;
  if (space_of(keys) != memory_space::host) {
    // Read in the caller's stream order: the keys are checked as the kernels will see them.
    auto& scratch = worker.key_scratch();
    scratch.resize(n);
    copy_to_host(scratch.data(), keys, n * sizeof(key_type), node_.device, stream);
    host = scratch.data();
  }
  const std::uint64_t values = node_.keys.check_keys(host, n, operation);
  GAPM_EXPECTS(!buffer_values || *buffer_values == values, operation, ": the value buffer holds ", *buffer_values,
               " values, but the ", n, " keys' rows need ", values);
  return host;
}

template <class T>
void worker_ops<T>::send_request(int node, std::vector<std::byte>&& frame) {
  if (auto result = node_.send(node, std::move(frame)); !result.ok())
    throw comm_error("gapm: node " + std::to_string(node_.rank()) + ": " + result.error);
}

template <class T>
void worker_ops<T>::send_rows(int node, outgoing_rows<T>& source, std::span<const std::uint32_t> picks,
                              const std::function<std::vector<std::byte>(std::span<const T>)>& encode) {
  // A request to this node itself (a key on its way here) carries host rows, as every frame
  // without the data plane does.
  if (!source.on_plane() || node == node_.rank()) return send_request(node, encode(source.host_rows(picks)));
  auto rows = source.device_rows(picks);
  source.ready();
  const std::size_t bytes = rows.bytes();
  if (auto result = node_.net->send_frame_with_rows(node, encode({}), std::move(rows), bytes, nullptr); !result.ok())
    throw comm_error("gapm: node " + std::to_string(node_.rank()) + ": " + result.error);
}

template <class T>
void worker_ops<T>::keep_last_rows(const key_type*& keys, std::size_t& n, const T*& rows,
                                   std::vector<key_type>& unique_keys, std::vector<T>& unique_rows,
                                   stream_view stream) {
  // The GPU assigns in parallel, so a set reduces repeated keys to their last occurrence
  // first (rows staged on the host: a rare path).
  std::unordered_map<key_type, std::size_t> last;
  last.reserve(n);
  for (std::size_t i = 0; i < n; ++i) last[keys[i]] = i;
  if (last.size() == n) return;
  std::vector<std::size_t> offsets(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) offsets[i + 1] = offsets[i] + node_.keys.row_length_of(keys[i]);
  std::vector<T> all_rows(offsets[n]);
  copy_to_host(all_rows.data(), rows, all_rows.size() * sizeof(T), node_.device, stream);
  for (std::size_t i = 0; i < n; ++i) {
    if (last[keys[i]] != i) continue;
    unique_keys.push_back(keys[i]);
    unique_rows.insert(unique_rows.end(), all_rows.begin() + static_cast<std::ptrdiff_t>(offsets[i]),
                       all_rows.begin() + static_cast<std::ptrdiff_t>(offsets[i + 1]));
  }
  keys = unique_keys.data();
  rows = unique_rows.data();
  n = unique_keys.size();
}

template <class T>
Ticket worker_ops<T>::write(worker_state& worker, write_kind kind, const key_type* keys, std::size_t n,
                            const T* rows, call_mode mode) {
  const char* operation = kind == write_kind::add ? "push" : "set";
  node_.check_usable(worker, operation);
  if (n == 0) {
    GAPM_EXPECTS(!mode.buffer_values || *mode.buffer_values == 0, operation, ": the value buffer holds ",
                 *mode.buffer_values, " values, but no key was given");
    return {};
  }
  GAPM_EXPECTS(keys != nullptr, operation, ": keys is null (n = ", n, ")");
  GAPM_EXPECTS(rows != nullptr, operation, ": values are null (n = ", n, ")");
  check_stream(mode.stream);
  const key_type* host = checked_keys(worker, keys, n, operation, mode.buffer_values, mode.stream);
  const std::size_t requested = n;
  std::vector<key_type> unique_keys;
  std::vector<T> unique_rows;
  if (kind == write_kind::assign) {
    keep_last_rows(host, n, rows, unique_keys, unique_rows, mode.stream);
    if (!unique_keys.empty()) keys = host;
  }

  std::shared_lock structure{node_.structure};  // the keys' roles hold while we write them
  if (!std::all_of(host, host + n, [&](key_type k) { return node_.writable(kind, k); }))
    return write_remote(worker, kind, host, n, rows, mode.stream);
  node_.rows.each_table_run(host, n, [&](std::size_t t, std::size_t first, std::size_t count, std::size_t offset) {
    if (kind == write_kind::add) node_.rows.table(t).scatter_add(keys + first, count, rows + offset, mode.stream);
    else node_.rows.table(t).assign(keys + first, count, rows + offset, mode.stream);
  });
  // Versions advance now, the values in the stream's order: a replica's refresh reads the
  // version and then gathers the value ordered after every queued write (owner_side), so it
  // never takes a version with a value that lacks the write. Staged rows die with this scope.
  if (mode.blocking || !unique_rows.empty()) node_.rows.synchronize(mode.stream);
  node_.bump_versions(host, n);
  worker_counters::bump(worker.counters().pushes_local, requested);
  return {};
}

template <class T>
Ticket worker_ops<T>::write_remote(worker_state& worker, write_kind kind, const key_type* keys, std::size_t n,
                                   const T* rows, stream_view stream) {
  std::vector<std::size_t> offsets(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) offsets[i + 1] = offsets[i] + node_.keys.row_length_of(keys[i]);
  outgoing_rows<T> source(rows, offsets, node_.device, stream, node_.net ? node_.net->plane() : nullptr);
  // Entry world_size holds the keys written here; the others go to their first hop (this node
  // too, when a key is on its way here: the receive thread waits for it).
  const auto here = static_cast<std::size_t>(node_.world_size());
  std::vector<std::vector<key_type>> keys_to(here + 1);
  std::vector<std::vector<std::uint32_t>> picks_to(keys_to.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto to = node_.writable(kind, keys[i]) ? here : static_cast<std::size_t>(node_.first_hop(keys[i]));
    keys_to[to].push_back(keys[i]);
    picks_to[to].push_back(static_cast<std::uint32_t>(i));
  }
  const auto& local_keys = keys_to[here];
  const std::size_t remote = n - local_keys.size();
  if (!local_keys.empty()) {
    auto apply = [&](const T* local_rows) {
      if (kind == write_kind::add) node_.rows.add(local_keys.data(), local_keys.size(), local_rows);
      else node_.rows.assign(local_keys.data(), local_keys.size(), local_rows);
    };
    if (source.on_plane()) {
      const auto local_rows = source.device_rows(picks_to[here]);
      source.ready();
      apply(reinterpret_cast<const T*>(local_rows.data()));
      node_.rows.synchronize({});  // complete, as with host rows
    } else {
      apply(source.host_rows(picks_to[here]).data());
    }
    node_.bump_versions(local_keys.data(), local_keys.size());
  }
  const Ticket ticket = worker.requests().open(remote);
  const auto message_kind = kind == write_kind::add ? wire::kind::push_request : wire::kind::set_request;
  try {
    for (std::size_t to = 0; to < here; ++to) {
      if (keys_to[to].empty()) continue;
      const wire::header head{.kind = static_cast<std::uint8_t>(message_kind),
                              .origin = node_.rank(),
                              .worker = worker.id(),
                              .request = ticket.id,
                              .count = keys_to[to].size()};
      send_rows(static_cast<int>(to), source, picks_to[to], [&](std::span<const T> host_rows) {
        return wire::encode(head, keys_to[to], host_rows);
      });
    }
  } catch (...) {
    worker.requests().abandon(ticket.id);  // the caller gets the exception, not the ticket
    throw;
  }
  worker_counters::bump(worker.counters().pushes_local, local_keys.size());
  worker_counters::bump(worker.counters().pushes_remote, remote);
  return ticket;
}

template <class T>
void worker_ops<T>::intent(worker_state& worker, const key_type* keys, std::size_t n, clock_type start,
                           clock_type end) {
  node_.check_usable(worker, "intent");
  if (end == 0) end = start + 1;
  GAPM_EXPECTS(start >= 0, "intent: start clock ", start, " is negative");
  GAPM_EXPECTS(end > start, "intent: end clock ", end, " is not after start clock ", start);
  if (n == 0) return;
  GAPM_EXPECTS(keys != nullptr, "intent: keys is null (n = ", n, ")");
  const key_type* host = checked_keys(worker, keys, n, "intent", std::nullopt, {});
  worker_counters::bump(worker.counters().intent_keys, n);
  // With one node every key is local, and the classic mode (techniques=none) ignores intent.
  if (!node_.adaptive() || end <= worker.clock()) return;
  auto parts = split_intent(host, n, start, end, static_cast<int>(node_.channels.size()));
  for (std::size_t c = 0; c < parts.size(); ++c)
    if (parts[c].keys) node_.channels[c]->submit(worker.id(), std::move(parts[c]));
}

template <class T>
void worker_ops<T>::sum_repeated(const key_type*& keys, std::size_t& n, const T*& grads, std::uint32_t factor,
                                 std::vector<key_type>& unique_keys, std::vector<T>& summed, stream_view stream) {
  std::unordered_map<key_type, std::size_t> first;  // key -> its place in unique_keys
  first.reserve(n);
  for (std::size_t i = 0; i < n; ++i) first.try_emplace(keys[i], first.size());
  if (first.size() == n) return;
  std::vector<std::size_t> offsets(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) offsets[i + 1] = offsets[i] + node_.keys.row_length_of(keys[i]) / factor;
  std::vector<T> all(offsets[n]);
  copy_to_host(all.data(), grads, all.size() * sizeof(T), node_.device, stream);
  unique_keys.resize(first.size());
  for (const auto& [key, at] : first) unique_keys[at] = key;
  std::vector<std::size_t> unique_offsets(unique_keys.size() + 1, 0);
  for (std::size_t u = 0; u < unique_keys.size(); ++u)
    unique_offsets[u + 1] = unique_offsets[u] + node_.keys.row_length_of(unique_keys[u]) / factor;
  summed.assign(unique_offsets.back(), T{});
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t u = first[keys[i]];
    for (std::size_t j = 0; j < offsets[i + 1] - offsets[i]; ++j) summed[unique_offsets[u] + j] += all[offsets[i] + j];
  }
  keys = unique_keys.data();
  grads = summed.data();
  n = unique_keys.size();
}

template <class T>
Ticket worker_ops<T>::apply_step(worker_state& worker, const key_type* keys, std::size_t n, const T* grads,
                                 const optimizer_step& step, call_mode mode) {
  node_.check_usable(worker, "apply_step");
  if (n == 0) return {};
  GAPM_EXPECTS(keys != nullptr, "apply_step: keys is null (n = ", n, ")");
  GAPM_EXPECTS(grads != nullptr, "apply_step: gradients are null (n = ", n, ")");
  check_stream(mode.stream);
  const key_type* host = checked_keys(worker, keys, n, "apply_step", std::nullopt, mode.stream);
  for (std::size_t t = 0; t < node_.keys.num_tables(); ++t) {
    const std::string problem = step_problem<T>(step, node_.keys.table(t).row_length);
    GAPM_EXPECTS(problem.empty() || std::none_of(host, host + n, [&](key_type k) { return node_.keys.table_of(k) == t; }),
                 "apply_step: ", problem, " (table ", t, ")");
  }
  const std::uint64_t gradients = gradient_values(node_.keys, host, n, step.row_factor());
  GAPM_EXPECTS(!mode.buffer_values || *mode.buffer_values == gradients, "apply_step: the gradient buffer holds ",
               *mode.buffer_values, " values, but the ", n, " keys need ", gradients);
  std::vector<key_type> unique_keys;
  std::vector<T> summed;
  sum_repeated(host, n, grads, step.row_factor(), unique_keys, summed, mode.stream);
  if (!unique_keys.empty()) keys = host;
  const auto constants = step_constants<T>::make(step);

  std::shared_lock structure{node_.structure};  // the keys' roles hold while we update them
  if (!std::all_of(host, host + n, [&](key_type k) { return node_.writable(write_kind::add, k); }))
    return step_remote(worker, host, n, grads, step, mode.stream);
  node_.rows.each_table_run(host, n, [&](std::size_t t, std::size_t first, std::size_t count, std::size_t offset) {
    node_.rows.table(t).apply_step(keys + first, count, grads + offset / step.row_factor(), constants, mode.stream);
  });
  // As for pushes: versions now, values in the stream's order.
  if (mode.blocking || !summed.empty()) node_.rows.synchronize(mode.stream);
  node_.bump_versions(host, n);
  worker_counters::bump(worker.counters().pushes_local, n);
  return {};
}

template <class T>
Ticket worker_ops<T>::step_remote(worker_state& worker, const key_type* keys, std::size_t n, const T* grads,
                                  const optimizer_step& step, stream_view stream) {
  const std::uint32_t factor = step.row_factor();
  std::vector<std::size_t> offsets(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) offsets[i + 1] = offsets[i] + node_.keys.row_length_of(keys[i]) / factor;
  outgoing_rows<T> source(grads, offsets, node_.device, stream, node_.net ? node_.net->plane() : nullptr);
  const auto here = static_cast<std::size_t>(node_.world_size());  // entry `here`: updated here
  std::vector<std::vector<key_type>> keys_to(here + 1);
  std::vector<std::vector<std::uint32_t>> picks_to(keys_to.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto to = node_.writable(write_kind::add, keys[i]) ? here : static_cast<std::size_t>(node_.first_hop(keys[i]));
    keys_to[to].push_back(keys[i]);
    picks_to[to].push_back(static_cast<std::uint32_t>(i));
  }
  const auto& local = keys_to[here];
  if (!local.empty()) {
    const auto constants = step_constants<T>::make(step);
    if (source.on_plane()) {
      const auto local_grads = source.device_rows(picks_to[here]);
      source.ready();
      node_.rows.apply_step(local.data(), local.size(), reinterpret_cast<const T*>(local_grads.data()), constants);
      node_.rows.synchronize({});  // complete, as with host gradients
    } else {
      node_.rows.apply_step(local.data(), local.size(), source.host_rows(picks_to[here]).data(), constants);
    }
    node_.bump_versions(local.data(), local.size());
  }
  const std::size_t remote = n - local.size();
  const Ticket ticket = worker.requests().open(remote);
  try {
    for (std::size_t to = 0; to < here; ++to) {
      if (keys_to[to].empty()) continue;
      const wire::header head{.origin = node_.rank(), .worker = worker.id(), .request = ticket.id};
      send_rows(static_cast<int>(to), source, picks_to[to], [&](std::span<const T> host_grads) {
        return encode_step<T>(head, step, keys_to[to], host_grads);
      });
    }
  } catch (...) {
    worker.requests().abandon(ticket.id);  // the caller gets the exception, not the ticket
    throw;
  }
  worker_counters::bump(worker.counters().pushes_local, local.size());
  worker_counters::bump(worker.counters().pushes_remote, remote);
  return ticket;
}

template class worker_ops<float>;
template class worker_ops<double>;
template class worker_ops<std::int64_t>;

}  // namespace gapm::detail
