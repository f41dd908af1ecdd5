#include "host/runtime/node_parts.hpp"

#include <algorithm>

#include <gapm/errors.hpp>

#include "cuda/device_platform.hpp"
#include "host/common/expects.hpp"
#include "host/common/memory_plan.hpp"
#include "host/store/store_factory.hpp"

namespace gapm::detail {
namespace {

// Option state.dense_mb in bytes (clamped: no overflow).
std::uint64_t dense_state_bytes(const Options& options) {
  return std::min<std::uint64_t>(options.state_dense_mb, std::uint64_t{1} << 40) << 20;
}

// The key space of valid options, once the host memory it takes is known to be there.
template <class T>
key_space planned_key_space(const Options& options, const cluster_env& env) {
  options.validate();
  key_space keys{options.tables};
  const bool rows_on_host = resolve_store_kind(options.store) == store_kind::cpu;
  check_memory_plan({&keys, env.rank, env.world_size, sizeof(T), rows_on_host,
                     dense_state_bytes(options)},
                    available_memory_bytes());
  return keys;
}

// A node holds replicas (and keys on their way here, merged like replicas on arrival) only with
// other nodes and adaptive management.
bool replicas_possible(const Options& options, const cluster_env& env) {
  return env.world_size > 1 && options.techniques != technique_mode::none;
}

int device_of(const cluster_env& env) {
  const device_platform* platform = active_device_platform();
  return platform == nullptr ? 0 : platform->device_for(env.local_rank);
}

}  // namespace

template <class T>
node_parts<T>::node_parts(Options given)
    : options{std::move(given)},
      env{discover_cluster_env()},
      keys{planned_key_space<T>(options, env)},
      store{resolve_store_kind(options.store)},
      device{device_of(env)},
      rows{keys,
           store,
           {.stride = static_cast<std::uint64_t>(env.world_size),
            .residue = static_cast<std::uint64_t>(env.rank),
            .dense_others = key_states::fits_dense(keys.num_keys(), env.world_size, dense_state_bytes(options))},
           options,
           device,
           replicas_possible(options, env)},
      workers{options.workers},
      worker_barrier{options.workers} {
  try {
    // Every key this node is home for (key % world_size == rank) gets a zero-filled row,
    // inserted a batch at a time: a list of all home keys would double the start-up peak.
    constexpr std::size_t batch = 1 << 16;
    const auto world = static_cast<key_type>(env.world_size);
    std::vector<key_type> home;
    home.reserve(batch);
    for (std::size_t t = 0; t < keys.num_tables(); ++t) {
      const key_type begin = keys.table_begin(t), end = keys.table_begin(t + 1);
      const key_type first = begin + (static_cast<key_type>(env.rank) + world - begin % world) % world;
      for (key_type k = first; k < end;) {
        home.clear();
        for (; k < end && home.size() < batch; k += world) home.push_back(k);
        GAPM_EXPECTS(rows.table(t).insert(home.data(), home.size()), "table ", t, ": no free slot for a home key");
      }
    }
    if (env.world_size > 1)
      states = std::make_unique<key_states>(keys.num_keys(), env.rank, env.world_size, dense_state_bytes(options));
  } catch (const std::bad_alloc&) {
    throw error(concat("gapm: node ", env.rank, ": out of host memory while allocating the tables (", keys.num_keys(),
                       " keys; ", human_bytes(static_cast<double>(available_memory_bytes())), " available now)"));
  }
}

template <class T>
int node_parts<T>::first_hop(key_type key) const noexcept {
  // The home's directory, else the location cache's guess, else the home: a wrong guess costs
  // a hop, since every node forwards by what it knows (host/adaptive/routing.hpp).
  const int home = states->home_of(key);
  if (home == env.rank) return states->owner(key).owner;  // this node, when the key is on its way here
  const int cached = states->cached_location(key);
  return options.location_caches && cached >= 0 ? cached : home;
}

template <class T>
void node_parts<T>::bump_versions(const key_type* keys_changed, std::size_t n) {
  if (!states) return;
  for (std::size_t i = 0; i < n; ++i)
    if (versioned(keys_changed[i])) states->advance_version(keys_changed[i]);
}

template <class T>
comm_result node_parts<T>::send(int node, std::vector<std::byte>&& frame) {
  if (node != env.rank) return net->send_frame(node, std::move(frame));
  wire::message message = wire::local_message(std::move(frame));
  message.head.sender = env.rank;
  deliver_here(std::move(message));
  return comm_result::success();
}

template <class T>
void node_parts<T>::deliver_here(wire::message&& message) {
  const auto kind = message.kind();
  if ((kind == wire::kind::sync_request || kind == wire::kind::sync_response) && message.head.channel() >= 0 &&
      message.head.channel() < static_cast<int>(channels.size())) {
    channels[static_cast<std::size_t>(message.head.channel())]->enqueue(std::move(message));
    return;
  }
  parked.park(std::move(message), parking_lot::clock::duration::zero());  // the receive thread's next turn
}

template <class T>
void node_parts<T>::check_usable(const worker_state& worker, const char* operation) const {
  GAPM_EXPECTS(!shut_down.load(std::memory_order_relaxed), operation, ": worker ", worker.id(),
               " used after the node was shut down");
  GAPM_EXPECTS(!worker.finalized(), operation, ": worker ", worker.id(), " used after finalize()");
  if (net) net->throw_if_failed();
}

template <class T>
void node_parts<T>::make_channels() {
  sync_view = std::make_unique<sync_context<T>>(sync_context<T>{
      .options = options,
      .keys = keys,
      .rank = env.rank,
      .world_size = env.world_size,
      .states = *states,
      .structure = structure,
      .rows = rows,
      .net = *net,
      .counters = sync,
      .worker_clocks = [this] { return workers.clocks(); },
      .first_hop = [this](key_type k) { return first_hop(k); },
      .send = [this](int node, std::vector<std::byte>&& frame) { return send(node, std::move(frame)); },
      .keys_arrived = [this] { parked.wake(); },
  });
  for (int c = 0; c < options.sync_channels; ++c) channels.push_back(std::make_unique<sync_channel<T>>(*sync_view, c));
}

template struct node_parts<float>;
template struct node_parts<double>;
template struct node_parts<std::int64_t>;

}  // namespace gapm::detail
