// The worker side of pull, push and set: validate everything, serve readable keys (a main
// copy or a ready replica) at once, send the rest where the key is thought to live (location
// cache, else the home, whose directory knows the owner) and hand back a ticket for them.
#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <cstring>
#include <unordered_map>

#include <gapm/errors.hpp>

#include "host/common/expects.hpp"
#include "host/store/memory_space.hpp"
#include "host/runtime/node_impl.hpp"

namespace gapm::detail {

template <class T>
void node_impl<T>::check_stream(stream_view stream) const {
  if (!stream.is_default() && store_kind_ != store_kind::cuda)
    throw unsupported_error("gapm: a CUDA stream was given, but this node's store is '" + store_name() +
                            "' (streams need the CUDA build and a GPU)");
}

template <class T>
void node_impl<T>::synchronize(stream_view stream) {
  if (store_kind_ == store_kind::cuda) stores_.front()->synchronize(stream);
}

template <class T>
const key_type* node_impl<T>::host_keys(worker_state& worker, const key_type* keys, std::size_t n) {
  if (space_of(keys) == memory_space::host) return keys;
  auto& scratch = worker.key_scratch();
  scratch.resize(n);
  copy_to_host(scratch.data(), keys, n * sizeof(key_type));
  return scratch.data();
}

template <class T>
template <class Fn>
void node_impl<T>::for_each_table_run(const key_type* keys, std::size_t n, Fn fn) const {
  std::size_t value_offset = 0;
  for (std::size_t begin = 0; begin < n;) {
    const std::size_t table = keys_.table_of(keys[begin]);
    std::size_t end = begin + 1;
    while (end < n && keys_.table_of(keys[end]) == table) ++end;
    fn(table, begin, end - begin, value_offset);
    value_offset += (end - begin) * keys_.table(table).row_length;
    begin = end;
  }
}

template <class T>
bool node_impl<T>::is_local(key_type key) const noexcept {
  return states_ ? states_->readable(key) : true;  // one node holds every key
}

template <class T>
int node_impl<T>::first_hop(key_type key) const noexcept {
  // The home's directory, else the location cache's guess, else the home: a wrong guess costs
  // a hop, since every node forwards by what it knows (host/adaptive/routing.hpp).
  const int home = states_->home_of(key);
  if (home == env_.rank) return states_->owner(key);  // this node, when the key is on its way here
  const int cached = states_->cached_location(key);
  return options_.location_caches && cached >= 0 ? cached : home;
}

template <class T>
template <class Op>
void node_impl<T>::on_rows(const key_type* keys, std::size_t n, Op op) {
  for_each_table_run(keys, n, [&](std::size_t table, std::size_t first, std::size_t count, std::size_t offset) {
    op(*stores_[table], keys + first, count, offset);
  });
  synchronize({});
}

template <class T>
void node_impl<T>::extract_rows(const key_type* keys, std::size_t n, T* deltas) {
  on_rows(keys, n, [&](store_backend<T>& store, const key_type* run, std::size_t count, std::size_t offset) {
    store.extract_delta(run, count, deltas + offset, {});
  });
}

template <class T>
void node_impl<T>::refresh_rows(const key_type* keys, std::size_t n, const T* main) {
  on_rows(keys, n, [&](store_backend<T>& store, const key_type* run, std::size_t count, std::size_t offset) {
    store.refresh_merge(run, count, main + offset, {});
  });
}

template <class T>
bool node_impl<T>::insert_row(key_type key) {
  return stores_[keys_.table_of(key)]->insert(&key, 1);
}

template <class T>
void node_impl<T>::erase_row(key_type key) {
  stores_[keys_.table_of(key)]->erase(&key, 1);
}

template <class T>
std::vector<clock_type> node_impl<T>::worker_clocks() {
  std::vector<clock_type> clocks(static_cast<std::size_t>(options_.workers), WORKER_FINISHED);
  std::lock_guard guard{workers_mutex_};
  for (std::size_t w = 0; w < workers_.size(); ++w)
    if (workers_[w] && !workers_[w]->finalized()) clocks[w] = workers_[w]->clock();
  return clocks;
}

template <class T>
void node_impl<T>::gather_rows(const key_type* keys, std::size_t n, T* out) {
  on_rows(keys, n, [&](store_backend<T>& store, const key_type* run, std::size_t count, std::size_t offset) {
    store.gather(run, count, out + offset, {});
  });
}

template <class T>
void node_impl<T>::write_rows(write_kind kind, const key_type* keys, std::size_t n, const T* rows) {
  on_rows(keys, n, [&](store_backend<T>& store, const key_type* run, std::size_t count, std::size_t offset) {
    if (kind == write_kind::add) store.scatter_add(run, count, rows + offset, {});
    else store.assign(run, count, rows + offset, {});
  });
}

template <class T>
bool node_impl<T>::writable(write_kind kind, key_type key) const noexcept {
  if (!states_) return true;
  // A set overwrites the main copy only: on a replica it would be undone by the next refresh.
  return kind == write_kind::add ? states_->readable(key) : states_->role(key) == key_role::main;
}

template <class T>
void node_impl<T>::bump_versions(const key_type* keys, std::size_t n) {
  if (!states_) return;
  // After the values: a replica's refresh reads the version first, so it never sees the new
  // version with the old value.
  for (std::size_t i = 0; i < n; ++i)
    if (states_->role(keys[i]) == key_role::main) states_->version(keys[i]).fetch_add(1, std::memory_order_acq_rel);
}

template <class T>
bool node_impl<T>::any_main_copy(const key_type* keys, std::size_t n) const noexcept {
  return states_ && std::any_of(keys, keys + n, [&](key_type k) { return states_->role(k) == key_role::main; });
}

template <class T>
void node_impl<T>::send_or_fail(int peer, const wire::header& head, const auto&... parts) {
  if (auto result = deliver(peer, head, parts...); !result.ok())
    throw comm_error("gapm: node " + std::to_string(env_.rank) + ": " + result.error);
}

template <class T>
const key_type* node_impl<T>::checked_keys(worker_state& worker, const key_type* keys, std::size_t n,
                                           const char* operation, std::optional<std::size_t> buffer_values) {
  const key_type* hkeys = host_keys(worker, keys, n);
  const std::uint64_t values = keys_.check_keys(hkeys, n, operation);
  GAPM_EXPECTS(!buffer_values || *buffer_values == values, operation, ": the value buffer holds ", *buffer_values,
               " values, but the ", n, " keys' rows need ", values);
  return hkeys;
}

template <class T>
Ticket node_impl<T>::pull(worker_state& worker, const key_type* keys, std::size_t n, T* out, call_mode mode) {
  check_usable(worker, "pull");
  const stream_view stream = mode.stream;
  if (n == 0) {
    GAPM_EXPECTS(!mode.buffer_values || *mode.buffer_values == 0, "pull: the value buffer holds ",
                 *mode.buffer_values, " values, but no key was given");
    return {};
  }
  GAPM_EXPECTS(keys != nullptr, "pull: keys is null (n = ", n, ")");
  GAPM_EXPECTS(out != nullptr, "pull: out is null (n = ", n, ")");
  check_stream(stream);
  const key_type* hkeys = checked_keys(worker, keys, n, "pull", mode.buffer_values);
  std::shared_lock structure{structure_mutex_};  // the keys' roles hold while we read them
  if (!std::all_of(hkeys, hkeys + n, [&](key_type k) { return is_local(k); }))
    return pull_remote(worker, hkeys, n, out, stream);
  // Local fast path: runs of one table are gathered straight from the caller's key buffer
  // (device keys stay on the device), no network involved.
  for_each_table_run(hkeys, n, [&](std::size_t table, std::size_t first, std::size_t count, std::size_t offset) {
    stores_[table]->gather(keys + first, count, out + offset, stream);
  });
  if (mode.blocking) synchronize(stream);
  worker_counters::bump(worker.counters().pulls_local, n);
  return {};
}

template <class T>
Ticket node_impl<T>::pull_remote(worker_state& worker, const key_type* keys, std::size_t n, T* out,
                                 stream_view stream) {
  pending_pull pending;
  pending.value_bytes = sizeof(T);
  pending.keys.assign(keys, keys + n);
  pending.offsets.resize(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) pending.offsets[i + 1] = pending.offsets[i] + keys_.row_length_of(keys[i]);
  // Rows are written by the receive thread: into the caller's buffer when it is host memory,
  // else into host staging that is copied to the device when the last row has arrived.
  if (space_of(out) == memory_space::device) {
    pending.staging.resize(pending.offsets[n] * sizeof(T));
    pending.device_out = out;
    pending.out = pending.staging.data();
  } else {
    pending.out = reinterpret_cast<std::byte*>(out);
  }
  T* rows_out = reinterpret_cast<T*>(pending.out);

  // Positions by destination; local ones are gathered right here.
  std::vector<std::vector<key_type>> keys_to(static_cast<std::size_t>(env_.world_size));
  std::vector<std::vector<std::uint32_t>> positions_to(keys_to.size());
  std::vector<key_type> local_keys;
  std::vector<std::size_t> local_positions;
  for (std::size_t i = 0; i < n; ++i) {
    if (is_local(keys[i])) {
      local_keys.push_back(keys[i]);
      local_positions.push_back(i);
    } else {
      const auto to = static_cast<std::size_t>(first_hop(keys[i]));
      keys_to[to].push_back(keys[i]);
      positions_to[to].push_back(static_cast<std::uint32_t>(i));
    }
  }
  const std::size_t remote = n - local_keys.size();
  pending.remaining = remote;
  if (!local_keys.empty()) {
    std::vector<T> local_rows;
    std::size_t values = 0;
    for (key_type k : local_keys) values += keys_.row_length_of(k);
    local_rows.resize(values);
    gather_rows(local_keys.data(), local_keys.size(), local_rows.data());
    const T* row = local_rows.data();
    for (std::size_t p : local_positions) {
      const std::size_t length = pending.offsets[p + 1] - pending.offsets[p];
      std::memcpy(rows_out + pending.offsets[p], row, length * sizeof(T));
      row += length;
    }
  }
  (void)stream;  // remote rows arrive on the host; the stream only orders local work
  worker_counters::bump(worker.counters().pulls_local, n - remote);
  worker_counters::bump(worker.counters().pulls_remote, remote);
  if (remote == 0) {  // every key became readable here meanwhile (a replica got ready)
    if (pending.device_out != nullptr) copy_from_host(pending.device_out, pending.staging.data(), pending.staging.size());
    return {};
  }

  const Ticket ticket = worker.requests().open(remote);
  {
    std::lock_guard guard{worker.pending_mutex()};
    worker.pending_pulls().emplace(ticket.id, std::move(pending));
  }
  try {
    for (std::size_t node = 0; node < keys_to.size(); ++node) {
      if (keys_to[node].empty()) continue;
      wire::header head{.kind = static_cast<std::uint8_t>(wire::kind::pull_request),
                        .origin = env_.rank,
                        .worker = worker.id(),
                        .request = ticket.id,
                        .count = keys_to[node].size()};
      send_or_fail(static_cast<int>(node), head, keys_to[node], positions_to[node]);
    }
  } catch (...) {
    // The caller gets the exception, not the ticket, and may free `out` at once: answers to
    // the requests already sent must find nothing to write into.
    worker.forget_pending_pull(ticket.id);
    worker.requests().abandon(ticket.id);
    throw;
  }
  return ticket;
}

template <class T>
Ticket node_impl<T>::write(worker_state& worker, write_kind kind, const key_type* keys, std::size_t n,
                           const T* rows, call_mode mode) {
  const char* operation = kind == write_kind::add ? "push" : "set";
  check_usable(worker, operation);
  const stream_view stream = mode.stream;
  if (n == 0) {
    GAPM_EXPECTS(!mode.buffer_values || *mode.buffer_values == 0, operation, ": the value buffer holds ",
                 *mode.buffer_values, " values, but no key was given");
    return {};
  }
  GAPM_EXPECTS(keys != nullptr, operation, ": keys is null (n = ", n, ")");
  GAPM_EXPECTS(rows != nullptr, operation, ": values are null (n = ", n, ")");
  check_stream(stream);
  const key_type* hkeys = checked_keys(worker, keys, n, operation, mode.buffer_values);
  const std::size_t requested = n;

  // A set with a repeated key keeps the last row; the GPU assigns in parallel, so reduce to
  // each key's last occurrence first (rows staged on the host: a rare path).
  std::vector<key_type> unique_keys;
  std::vector<T> unique_rows;
  if (kind == write_kind::assign) {
    std::unordered_map<key_type, std::size_t> last;
    last.reserve(n);
    for (std::size_t i = 0; i < n; ++i) last[hkeys[i]] = i;
    if (last.size() != n) {
      std::vector<std::size_t> offsets(n + 1, 0);
      for (std::size_t i = 0; i < n; ++i) offsets[i + 1] = offsets[i] + keys_.row_length_of(hkeys[i]);
      std::vector<T> all_rows(offsets[n]);
      copy_to_host(all_rows.data(), rows, all_rows.size() * sizeof(T));
      for (std::size_t i = 0; i < n; ++i) {
        if (last[hkeys[i]] != i) continue;
        unique_keys.push_back(hkeys[i]);
        unique_rows.insert(unique_rows.end(), all_rows.begin() + static_cast<std::ptrdiff_t>(offsets[i]),
                           all_rows.begin() + static_cast<std::ptrdiff_t>(offsets[i + 1]));
      }
      keys = hkeys = unique_keys.data();
      rows = unique_rows.data();
      n = unique_keys.size();
    }
  }

  std::shared_lock structure{structure_mutex_};  // the keys' roles hold while we write them
  if (!std::all_of(hkeys, hkeys + n, [&](key_type k) { return writable(kind, k); }))
    return write_remote(worker, kind, hkeys, n, rows);
  for_each_table_run(hkeys, n, [&](std::size_t table, std::size_t first, std::size_t count, std::size_t offset) {
    if (kind == write_kind::add) stores_[table]->scatter_add(keys + first, count, rows + offset, stream);
    else stores_[table]->assign(keys + first, count, rows + offset, stream);
  });
  // A main copy's version may only advance once its values have: a replica's refresh reads
  // the version first and would otherwise take the old value as up to date. So a write into
  // main copies completes before the call returns (also for push_async); staged rows die
  // with this scope.
  if (mode.blocking || !unique_rows.empty() || any_main_copy(hkeys, n)) synchronize(stream);
  bump_versions(hkeys, n);
  worker_counters::bump(worker.counters().pushes_local, requested);
  return {};
}

template <class T>
Ticket node_impl<T>::write_remote(worker_state& worker, write_kind kind, const key_type* keys, std::size_t n,
                                  const T* rows) {
  std::vector<std::size_t> offsets(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) offsets[i + 1] = offsets[i] + keys_.row_length_of(keys[i]);
  std::vector<T> host_rows;
  if (space_of(rows) == memory_space::device) {
    host_rows.resize(offsets[n]);
    copy_to_host(host_rows.data(), rows, host_rows.size() * sizeof(T));
    rows = host_rows.data();
  }
  // Slot world_size holds the keys written here; the others go to where first_hop() points
  // (this node too, when a key is on its way here: the receive thread retries it).
  const auto here = static_cast<std::size_t>(env_.world_size);
  std::vector<std::vector<key_type>> keys_to(here + 1);
  std::vector<std::vector<T>> rows_to(keys_to.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto slot = writable(kind, keys[i]) ? here : static_cast<std::size_t>(first_hop(keys[i]));
    keys_to[slot].push_back(keys[i]);
    rows_to[slot].insert(rows_to[slot].end(), rows + offsets[i], rows + offsets[i + 1]);
  }
  const auto& local_keys = keys_to[here];
  const std::size_t remote = n - local_keys.size();
  if (!local_keys.empty()) {
    write_rows(kind, local_keys.data(), local_keys.size(), rows_to[here].data());
    bump_versions(local_keys.data(), local_keys.size());
  }

  const Ticket ticket = worker.requests().open(remote);
  const auto message_kind = kind == write_kind::add ? wire::kind::push_request : wire::kind::set_request;
  try {
    for (std::size_t node = 0; node < here; ++node) {
      if (keys_to[node].empty()) continue;
      wire::header head{.kind = static_cast<std::uint8_t>(message_kind),
                        .origin = env_.rank,
                        .worker = worker.id(),
                        .request = ticket.id,
                        .count = keys_to[node].size()};
      send_or_fail(static_cast<int>(node), head, keys_to[node], rows_to[node]);
    }
  } catch (...) {
    worker.requests().abandon(ticket.id);  // the caller gets the exception, not the ticket
    throw;
  }
  worker_counters::bump(worker.counters().pushes_local, local_keys.size());
  worker_counters::bump(worker.counters().pushes_remote, remote);
  return ticket;
}

#define GAPM_INSTANTIATE_NODE_OPS(T)                                                                      \
  template void node_impl<T>::check_stream(stream_view) const;                                            \
  template void node_impl<T>::synchronize(stream_view);                                                   \
  template const key_type* node_impl<T>::host_keys(worker_state&, const key_type*, std::size_t);          \
  template bool node_impl<T>::is_local(key_type) const noexcept;                                          \
  template void node_impl<T>::gather_rows(const key_type*, std::size_t, T*);                              \
  template void node_impl<T>::write_rows(write_kind, const key_type*, std::size_t, const T*);             \
  template void node_impl<T>::extract_rows(const key_type*, std::size_t, T*);                             \
  template void node_impl<T>::refresh_rows(const key_type*, std::size_t, const T*);                       \
  template bool node_impl<T>::insert_row(key_type);                                                       \
  template void node_impl<T>::erase_row(key_type);                                                        \
  template std::vector<clock_type> node_impl<T>::worker_clocks();                                         \
  template int node_impl<T>::first_hop(key_type) const noexcept;                                          \
  template bool node_impl<T>::writable(write_kind, key_type) const noexcept;                              \
  template void node_impl<T>::bump_versions(const key_type*, std::size_t);                                \
  template Ticket node_impl<T>::pull(worker_state&, const key_type*, std::size_t, T*, call_mode);          \
  template Ticket node_impl<T>::write(worker_state&, write_kind, const key_type*, std::size_t, const T*,  \
                                      call_mode);

GAPM_INSTANTIATE_NODE_OPS(float)
GAPM_INSTANTIATE_NODE_OPS(double)
GAPM_INSTANTIATE_NODE_OPS(std::int64_t)
#undef GAPM_INSTANTIATE_NODE_OPS

}  // namespace gapm::detail
