#include "host/adaptive/owner_side.hpp"

#include <mutex>
#include <optional>
#include <shared_mutex>

#include "host/adaptive/placement.hpp"
#include "host/common/expects.hpp"

namespace gapm::detail {

template <class T>
void owner_side<T>::serve(const wire::message& message) {
  const wire::header& head = message.head;
  const int origin = head.origin;
  if (origin < 0 || origin >= ctx_.world_size || (origin == ctx_.rank && head.first_delivery()))
    throw wire::malformed_message("sync request: bad origin " + std::to_string(origin));
  auto request = sync_request<T>::decode(message, ctx_.keys, ctx_.options.sync_channels, channel_);

  // With the data plane, rows (deltas arrived, the answer's gathered) are device buffers of the
  // node's device, used and freed on this thread's stream there: everything below runs in its scope.
  row_plane* const node_plane = ctx_.net.plane();
  std::optional<device_scope> on_device;
  if (node_plane) on_device.emplace(node_plane->runtime(), node_plane->device());

  if (head.first_delivery()) state_.refresh_asked[static_cast<std::size_t>(origin)].clear();  // its latest round
  state_.clocks = ctx_.worker_clocks();
  const plan p = classify(request, origin);
  // Deltas that came on the data plane are merged straight from the device when all of them
  // are merged here (the usual case); otherwise they come to the host first, as the entries
  // that go on or wait carry theirs in their frames.
  if (request.arrived && !merges_every_delta(request, p)) take_deltas_to_host(request);

  // The answer's rows travel GPU to GPU too, gathered into a device buffer.
  row_plane* plane = origin != ctx_.rank ? node_plane : nullptr;
  sync_response<T> answer;
  answer.handled = p.handled;
  answer.acknowledges = head.first_delivery();
  if (plane) {
    std::size_t most = 0;  // values the answer may carry: replicas behind and main copies moving
    for (const auto* picks : {&p.replicate, &p.relocate})
      for (std::uint32_t i : *picks) most += ctx_.keys.row_length_of(request.keys[i]);
    if (most > 0) answer.device_values = device_buffer<std::byte>(plane->runtime(), most * sizeof(T), nullptr);
  }
  merge_and_replicate(request, p, answer);
  relocate(request, p, origin, answer);
  // The origin hears what was handled here; a forwarded request that handled nothing here
  // owes it nothing.
  if (answer.handled > 0 || answer.acknowledges) {
    auto frame = answer.encode({.origin = origin, .worker = channel_, .request = head.round()});
    if (answer.device_size == 0) {
      (void)ctx_.send(origin, std::move(frame));
    } else {
      if (gathered_.get() == nullptr) gathered_ = owned_event{plane->runtime(), plane->device()};
      plane->runtime().record(gathered_.get(), nullptr);  // the gathers above, on this thread's stream
      (void)ctx_.net.send_frame_with_rows(origin, std::move(frame), std::move(answer.device_values),
                                          answer.device_size * sizeof(T), gathered_.get());
    }
  }

  for (std::size_t to = 0; to < p.forward.size(); ++to) {
    if (p.forward[to].empty()) continue;
    const auto part = request.pick(p.forward[to], p.forward_hints[to]);
    (void)ctx_.send(static_cast<int>(to), part.encode(wire::forwarded(head, part.keys.front())));
  }
  if (!p.parked.empty()) {  // a re-delivery, not a new direct message: no second acknowledgement
    const auto part = request.pick(p.parked);
    wire::header wait = wire::parked(head, part.keys.front());
    wait.sender = ctx_.rank;
    parked_.park(wire::local_message(part.encode(wait)));
  }
}

template <class T>
typename owner_side<T>::plan owner_side<T>::classify(const sync_request<T>& request, int origin) {
  // Roles of this channel's keys change on this thread only; the shared lock is for the
  // records other channels may be adding.
  std::shared_lock shared{ctx_.structure};
  plan p;
  p.forward.resize(static_cast<std::size_t>(ctx_.world_size));
  p.forward_hints.resize(p.forward.size());
  auto& asked = state_.refresh_asked;
  for (std::uint32_t i = 0; i < request.size(); ++i) {
    const key_type k = request.keys[i];
    if (ctx_.states.role(k) != key_role::main) {
      const next_hop hop = route_request(ctx_.states.knowledge(k), request.hints[i]);
      if (hop.what == next_hop::action::wait) {
        p.parked.push_back(i);  // on its way here
      } else {
        p.forward[static_cast<std::size_t>(hop.node)].push_back(i);
        p.forward_hints[static_cast<std::size_t>(hop.node)].push_back(hop.hint);
      }
      continue;
    }
    const bool refresh = request.wants_refresh(i) && origin != ctx_.rank;  // our own entry came back: merge only
    if (refresh && just_arrived(k)) {  // it stays a moment, for the requests that waited for it
      p.parked.push_back(i);
      continue;
    }
    ++p.handled;
    if (request.has_delta(i)) p.merge.push_back(i);
    if (!refresh) continue;
    bool others_intend = false;
    for (std::size_t r = 0; r < asked.size() && !others_intend; ++r)
      others_intend = static_cast<int>(r) != origin && asked[r].contains(k);
    const placement decision = place(ctx_.options.techniques, state_.intended_here(k), others_intend);
    asked[static_cast<std::size_t>(origin)].insert(k);
    (decision == placement::relocate ? p.relocate : p.replicate).push_back(i);
    if (decision == placement::replicate && ctx_.states.find(k) == nullptr) p.untracked.push_back(k);
  }
  return p;
}

template <class T>
void owner_side<T>::merge_and_replicate(const sync_request<T>& request, const plan& p, sync_response<T>& answer) {
  // Every delta first; then the refresh answers, reading each version before its value, so a
  // push that lands in between makes the replica look behind next round (one more transfer),
  // never up to date without the push.
  if (!p.untracked.empty()) {  // a key's first replica: its version needs a record
    std::unique_lock exclusive{ctx_.structure};
    for (key_type k : p.untracked) ctx_.states.track(k);
  }
  std::shared_lock shared{ctx_.structure};
  if (!p.merge.empty()) {
    std::vector<key_type> keys;
    for (std::uint32_t i : p.merge) keys.push_back(request.keys[i]);
    if (request.deltas_on_host()) {
      pinned_vector<T> rows;
      for (std::uint32_t i : p.merge) rows.insert(rows.end(), request.delta(i).begin(), request.delta(i).end());
      ctx_.rows.add(keys.data(), keys.size(), rows.data());
    } else {  // every delta of the request, in order, on the device (serve() made sure)
      const auto* rows = reinterpret_cast<const T*>(request.arrived->use_on(nullptr));
      ctx_.rows.add(keys.data(), keys.size(), rows);  // complete on return: the rows may go
      ctx_.net.throw_if_failed();                     // an aborted transfer's rows are no rows
    }
    for (key_type k : keys) ctx_.states.advance_version(k);
  }
  std::vector<key_type> behind;
  for (std::uint32_t i : p.replicate) {
    const key_type k = request.keys[i];
    ctx_.states.mark_shared(k);  // from now on every update advances its version
    const std::int64_t version = ctx_.states.version(k);
    const std::int64_t replica_expects = request.versions[i] + (request.has_delta(i) ? 1 : 0);
    // An up-to-date replica gets no answer of its own: `handled` tells its node the entry was
    // seen, and it keeps the version it expects. Only one that expects more than the main copy
    // has hears the version to go back to.
    if (replica_expects == version) continue;
    const bool stale = replica_expects < version;
    answer.add(k, stale ? sync_answer::value : sync_answer::current, version);
    if (stale) behind.push_back(k);
  }
  std::size_t values = 0;
  for (key_type k : behind) values += ctx_.keys.row_length_of(k);
  T* rows = answer.append_values(values);
  // A write queued before the key was marked shared did not advance its version: the replica
  // gets it in its value.
  if (!behind.empty()) ctx_.rows.order_after_queued_writes();
  ctx_.rows.gather(behind.data(), behind.size(), rows);
}

template <class T>
void owner_side<T>::relocate(const sync_request<T>& request, const plan& p, int origin, sync_response<T>& answer) {
  if (p.relocate.empty()) return;
  // The main copy, its version and its counter travel; the home learns the new owner.
  std::vector<key_type> moving;
  for (std::uint32_t i : p.relocate) moving.push_back(request.keys[i]);
  std::size_t values = 0;
  for (key_type k : moving) values += ctx_.keys.row_length_of(k);
  T* rows = answer.append_values(values);
  std::vector<directory_update> to_home(static_cast<std::size_t>(ctx_.world_size));
  {
    std::unique_lock exclusive{ctx_.structure};
    ctx_.rows.order_after_queued_writes();  // the main copy leaves with every write queued to it
    ctx_.rows.gather(moving.data(), moving.size(), rows);
    for (key_type k : moving) {
      const bool still_wanted = state_.intended_here(k);  // relocation_only: ask for it back
      // The main copy's version before it leaves (a record made now starts from the main's).
      const std::int64_t counter = ctx_.states.handed_over(k, origin);  // the forwarding pointer
      answer.add(k, ctx_.states.shared(k) ? sync_answer::relocated_shared : sync_answer::relocated,
                 ctx_.states.version(k), counter);
      ctx_.states.set_role(k, key_role::absent);
      const int home = ctx_.states.home_of(k);
      if (home == ctx_.rank) {
        ctx_.states.update_owner(k, origin, counter);
      } else {
        ctx_.states.cache_location(k, origin);
        if (home != origin) {  // the new owner updates its own directory on receipt
          auto& update = to_home[static_cast<std::size_t>(home)];
          update.keys.push_back(k);
          update.owners.push_back(origin);
          update.counters.push_back(counter);
        }
      }
      if (still_wanted) state_.wanted.insert(k);
    }
    ctx_.rows.erase(moving.data(), moving.size());
  }
  for (std::size_t home = 0; home < to_home.size(); ++home)
    if (!to_home[home].keys.empty()) (void)ctx_.send(static_cast<int>(home), to_home[home].encode({.origin = ctx_.rank}));
}

template <class T>
bool owner_side<T>::merges_every_delta(const sync_request<T>& request, const plan& p) {
  std::size_t with_delta = 0;
  for (std::size_t i = 0; i < request.size(); ++i) with_delta += request.has_delta(i) ? 1 : 0;
  return p.merge.size() == with_delta;
}

template <class T>
void owner_side<T>::take_deltas_to_host(sync_request<T>& request) {
  request.deltas.resize(request.delta_values());
  request.arrived->copy_to_host(reinterpret_cast<std::byte*>(request.deltas.data()), nullptr);
  ctx_.net.throw_if_failed();
  request.arrived.reset();
}

template <class T>
bool owner_side<T>::just_arrived(key_type key) {
  auto it = state_.arrived.find(key);
  if (it == state_.arrived.end()) return false;
  if (channel_state<T>::clock::now() - it->second < dwell) return true;
  state_.arrived.erase(it);
  return false;
}

template class owner_side<float>;
template class owner_side<double>;
template class owner_side<std::int64_t>;

}  // namespace gapm::detail
