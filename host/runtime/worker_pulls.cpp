// worker_ops, the pulls: serve the local keys from the store, ask the owners of the others,
// and deliver arrived answers into the caller's buffers in the caller's stream order.
#include <algorithm>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include <gapm/errors.hpp>

#include "host/common/expects.hpp"
#include "host/runtime/plane_rows.hpp"
#include "host/runtime/pull_staging.hpp"
#include "host/runtime/worker_ops.hpp"
#include "host/store/memory_space.hpp"

namespace gapm::detail {

template <class T>
Ticket worker_ops<T>::pull(worker_state& worker, const key_type* keys, std::size_t n, T* out, call_mode mode) {
  node_.check_usable(worker, "pull");
  if (n == 0) {
    GAPM_EXPECTS(!mode.buffer_values || *mode.buffer_values == 0, "pull: the value buffer holds ",
                 *mode.buffer_values, " values, but no key was given");
    return {};
  }
  GAPM_EXPECTS(keys != nullptr, "pull: keys is null (n = ", n, ")");
  GAPM_EXPECTS(out != nullptr, "pull: out is null (n = ", n, ")");
  check_stream(mode.stream);
  const key_type* host = checked_keys(worker, keys, n, "pull", mode.buffer_values, mode.stream);
  std::shared_lock structure{node_.structure};  // the keys' roles hold while we read them
  if (!std::all_of(host, host + n, [&](key_type k) { return node_.readable(k); }))
    return pull_remote(worker, host, n, out, mode);
  // Local fast path: runs of one table are gathered straight from the caller's key buffer
  // (device keys stay on the device), no network involved.
  node_.rows.each_table_run(host, n, [&](std::size_t t, std::size_t first, std::size_t count, std::size_t offset) {
    node_.rows.table(t).gather(keys + first, count, out + offset, mode.stream);
  });
  if (mode.blocking) node_.rows.synchronize(mode.stream);
  worker_counters::bump(worker.counters().pulls_local, n);
  return {};
}

template <class T>
Ticket worker_ops<T>::pull_remote(worker_state& worker, const key_type* keys, std::size_t n, T* out,
                                  const call_mode& mode) {
  pending_pull pending;
  pending.value_bytes = sizeof(T);
  pending.keys.assign(keys, keys + n);
  pending.offsets.resize(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) pending.offsets[i + 1] = pending.offsets[i] + node_.keys.row_length_of(keys[i]);
  // Rows are written by the receive thread: into the caller's buffer when it is host memory,
  // else into host staging that this worker copies to the device once the last row has arrived.
  if (space_of(out) == memory_space::device) {
    pending.staging.resize(pending.offsets[n] * sizeof(T));
    pending.device_out = out;
    pending.stream = mode.stream;
    pending.blocking = mode.blocking;
    pending.out = pending.staging.data();
  } else {
    pending.out = reinterpret_cast<std::byte*>(out);
  }
  T* rows_out = reinterpret_cast<T*>(pending.out);

  // Positions by destination; local ones are gathered right here.
  std::vector<std::vector<key_type>> keys_to(static_cast<std::size_t>(node_.world_size()));
  std::vector<std::vector<std::uint32_t>> positions_to(keys_to.size());
  std::vector<key_type> local_keys;
  std::vector<std::size_t> local_positions;
  for (std::size_t i = 0; i < n; ++i) {
    if (node_.readable(keys[i])) {
      local_keys.push_back(keys[i]);
      local_positions.push_back(i);
    } else {
      const auto to = static_cast<std::size_t>(node_.first_hop(keys[i]));
      keys_to[to].push_back(keys[i]);
      positions_to[to].push_back(static_cast<std::uint32_t>(i));
    }
  }
  const std::size_t remote = n - local_keys.size();
  pending.remaining = remote;
  if (!local_keys.empty()) {
    pinned_vector<T> local_rows(node_.keys.check_keys(local_keys.data(), local_keys.size(), "pull"));
    // In the caller's stream order, as an all-local pull: after writes queued on it before.
    node_.rows.gather(local_keys.data(), local_keys.size(), local_rows.data(), mode.stream);
    const T* row = local_rows.data();
    for (std::size_t p : local_positions) {
      const std::size_t length = pending.offsets[p + 1] - pending.offsets[p];
      std::memcpy(rows_out + pending.offsets[p], row, length * sizeof(T));
      row += length;
    }
  }
  worker_counters::bump(worker.counters().pulls_local, n - remote);
  worker_counters::bump(worker.counters().pulls_remote, remote);

  const Ticket ticket = worker.requests().open(remote);
  {
    std::lock_guard guard{worker.pending_mutex()};
    worker.pending_pulls().emplace(ticket.id, std::move(pending));
  }
  try {
    for (std::size_t to = 0; to < keys_to.size(); ++to) {
      if (keys_to[to].empty()) continue;
      const wire::header head{.kind = static_cast<std::uint8_t>(wire::kind::pull_request),
                              .origin = node_.rank(),
                              .worker = worker.id(),
                              .request = ticket.id,
                              .count = keys_to[to].size()};
      send_request(static_cast<int>(to), wire::encode(head, keys_to[to], positions_to[to]));
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
void worker_ops<T>::deliver_arrived_pulls(worker_state& worker, std::optional<std::uint64_t> ticket) {
  std::vector<pending_pull> ready;
  {
    std::lock_guard guard{worker.pending_mutex()};
    auto& arrived = worker.arrived_pulls();
    if (arrived.empty()) return;
    if (ticket) {
      auto it = arrived.find(*ticket);
      if (it == arrived.end()) return;
      ready.push_back(std::move(it->second));
      arrived.erase(it);
    } else {  // in the order of the calls, so that pulls into one buffer land as issued
      std::vector<std::uint64_t> ids;
      for (const auto& entry : arrived) ids.push_back(entry.first);
      std::sort(ids.begin(), ids.end());
      for (std::uint64_t id : ids) ready.push_back(std::move(arrived.at(id)));
      arrived.clear();
    }
  }
  for (pending_pull& pull : ready) {
    if (pull.blocking) {
      copy_from_host(pull.device_out, pull.staging.data(), pull.staging.size(), node_.device, pull.stream);
    } else {
      copy_from_host_async(pull.device_out, std::move(pull.staging), node_.device, pull.stream);
    }
    // Rows that came on the data plane, after the host's (whose staging holds nothing there).
    if (pull.device_staging) pull.device_staging->deliver(static_cast<std::byte*>(pull.device_out), pull.stream, pull.blocking);
  }
}

// The members defined here, for each value type (worker_ops.cpp instantiates the class).
#define GAPM_INSTANTIATE_PULLS(T)                                                                          \
  template Ticket worker_ops<T>::pull(worker_state&, const key_type*, std::size_t, T*, call_mode);         \
  template Ticket worker_ops<T>::pull_remote(worker_state&, const key_type*, std::size_t, T*, const call_mode&); \
  template void worker_ops<T>::deliver_arrived_pulls(worker_state&, std::optional<std::uint64_t>);
GAPM_INSTANTIATE_PULLS(float)
GAPM_INSTANTIATE_PULLS(double)
GAPM_INSTANTIATE_PULLS(std::int64_t)
#undef GAPM_INSTANTIATE_PULLS

}  // namespace gapm::detail
