#include "host/adaptive/replica_side.hpp"

#include <algorithm>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "host/adaptive/delta_rule.hpp"
#include "host/common/delta_measure.hpp"

namespace gapm::detail {

template <class T>
void replica_side<T>::ask_for_wanted_keys() {
  std::vector<key_type> wanted(state_.wanted.begin(), state_.wanted.end());
  state_.wanted.clear();
  std::erase_if(wanted, [&](key_type k) { return ctx_.states.role(k) != key_role::absent || !state_.intended_here(k); });
  if (wanted.empty()) return;
  std::sort(wanted.begin(), wanted.end());
  std::unique_lock structure{ctx_.structure};
  const std::vector<key_type> asked = wanted;
  ctx_.rows.insert_where_room(wanted);  // a full slot pool: accesses to the others stay remote
  for (key_type k : asked)  // a key whose old row queued work still reads: again next round
    if (!std::binary_search(wanted.begin(), wanted.end(), k) && !ctx_.rows.can_insert(k)) state_.wanted.insert(k);
  for (key_type k : wanted) {
    // No record yet: it is made when the key becomes a replica (its version comes with the
    // first answer), and most keys asked for arrive as main copies (relocations).
    ctx_.states.set_role(k, key_role::pending);
    state_.replicas.insert(k);
  }
}

// The deltas one round sends to one node, taken straight into the buffer they travel in: the
// request's `deltas`, or with the data plane a buffer on this node's GPU (sent GPU to GPU).
template <class T>
class replica_side<T>::delta_buffer {
 public:
  void reserve(std::size_t values) noexcept { capacity_ += values; }
  // Call within a device_scope of the plane's device when there is a plane.
  void allocate(row_plane* plane) {
    if (capacity_ == 0) return;
    if (plane != nullptr) {
      device_ = device_buffer<std::byte>(plane->runtime(), capacity_ * sizeof(T), nullptr);
    } else {
      host_.resize(capacity_);
    }
  }
  // Room for the next `values` deltas.
  [[nodiscard]] T* next(std::size_t values) noexcept {
    T* at = (device_.bytes() > 0 ? reinterpret_cast<T*>(device_.data()) : host_.data()) + used_;
    used_ += values;
    return at;
  }
  void hand_to(sync_request<T>& request) {
    if (device_.bytes() > 0) {
      if (used_ > 0) request.device_deltas = std::move(device_);
    } else {
      host_.resize(used_);
      request.deltas = std::move(host_);
    }
  }

 private:
  std::size_t capacity_ = 0, used_ = 0;
  pinned_vector<T> host_;
  device_buffer<std::byte> device_;
};

template <class T>
void replica_side<T>::ask_refresh(std::vector<sync_request<T>>& to, key_type key) {
  const int node = ctx_.first_hop(key);
  if (node == ctx_.rank) return;  // the directory points here: the main copy is on its way
  to[static_cast<std::size_t>(node)].add_placed(key, sync_ask::refresh, -1, 0);
}

template <class T>
void replica_side<T>::fold_held_deltas(const std::vector<key_type>& keys) {
  if (state_.held_deltas.empty()) return;
  std::vector<key_type> folded;
  pinned_vector<T> rows;
  for (key_type k : keys)
    if (auto held = state_.held_deltas.find(k); held != state_.held_deltas.end()) {
      folded.push_back(k);
      rows.insert(rows.end(), held->second.begin(), held->second.end());
      state_.held_deltas.erase(held);
    }
  if (folded.empty()) return;
  std::shared_lock structure{ctx_.structure};
  ctx_.rows.add(folded.data(), folded.size(), rows.data());  // a local push: the next delta carries it
}

template <class T>
std::vector<sync_request<T>> replica_side<T>::build_round(bool flush) {
  auto& states = ctx_.states;
  std::erase_if(state_.arrived, [now = channel_state<T>::clock::now()](const auto& arrival) {
    return now - arrival.second >= std::chrono::microseconds(500);  // owner_side::dwell, long past
  });
  state_.clocks = state_.intents.register_due(ctx_.worker_clocks, [&](key_type k) {
    if (states.role(k) == key_role::absent) state_.wanted.insert(k);  // intended here, held elsewhere
  });
  ask_for_wanted_keys();

  // This channel's replicas: pending ones ask, ready ones keep (delta + refresh) or drop.
  std::vector<key_type> pending, keep, drop;
  for (auto it = state_.replicas.begin(); it != state_.replicas.end();) {
    const key_type k = *it;
    const key_role role = states.role(k);
    if (role == key_role::main || role == key_role::absent) {  // upgraded by a relocation
      it = state_.replicas.erase(it);
      continue;
    }
    (role == key_role::pending ? pending : state_.intended_here(k) ? keep : drop).push_back(k);
    ++it;
  }
  ctx_.counters.replica_rounds.fetch_add(keep.size() + drop.size(), std::memory_order_relaxed);

  // With the data plane the deltas are taken into device buffers, made and freed (should one
  // go unsent) in the scope of the node's device: it outlives them.
  row_plane* const plane = ctx_.net.plane();
  std::optional<device_scope> on_device;
  if (plane != nullptr) on_device.emplace(plane->runtime(), plane->device());
  const auto world = static_cast<std::size_t>(ctx_.world_size);
  std::vector<sync_request<T>> to(world);
  for (key_type k : pending) ask_refresh(to, k);

  // Which deltas travel (sync.threshold; a flush sends what was held back) is decided from
  // their measures, taken where the rows are; a delta that does not travel is not taken: it
  // stays in the replica and grows until it does.
  fold_held_deltas(keep);
  fold_held_deltas(drop);
  const double threshold = flush && ctx_.options.sync_threshold > 0 ? 0.0 : ctx_.options.sync_threshold;
  pinned_vector<delta_measure> measures(keep.size());
  std::vector<std::int64_t> versions(keep.size());  // only this thread changes them
  {
    std::shared_lock structure{ctx_.structure};
    // The norm only for a positive threshold; a negative one sends every delta unmeasured.
    if (threshold >= 0) ctx_.rows.measure_deltas(keep.data(), keep.size(), measures.data(), threshold > 0);
    for (std::size_t i = 0; i < keep.size(); ++i) versions[i] = states.replica_record(keep[i]).version();
  }
  std::vector<std::vector<key_type>> travelling(world);  // by first hop, in entry order
  std::vector<delta_buffer> buffers(world);
  for (std::size_t i = 0; i < keep.size(); ++i) {
    const key_type k = keep[i];
    const int hop = ctx_.first_hop(k);  // once: the entry and its delta must go the same way
    if (hop == ctx_.rank) continue;     // the main copy is on its way here: the delta joins it there
    const auto node = static_cast<std::size_t>(hop);
    const std::size_t length = ctx_.keys.row_length_of(k);
    if (classify_delta(measures[i], threshold) == delta_action::send) {
      to[node].add_placed(k, sync_ask::delta | sync_ask::refresh, versions[i], length);
      travelling[node].push_back(k);
      buffers[node].reserve(length);
    } else {
      to[node].add_placed(k, sync_ask::refresh, versions[i], 0);
    }
  }
  std::vector<int> drop_hops(drop.size());
  for (std::size_t i = 0; i < drop.size(); ++i) {
    drop_hops[i] = ctx_.first_hop(drop[i]);
    if (drop_hops[i] != ctx_.rank) buffers[static_cast<std::size_t>(drop_hops[i])].reserve(ctx_.keys.row_length_of(drop[i]));
  }

  for (auto& buffer : buffers) buffer.allocate(plane);
  {  // Deltas, exactly once: value - sync_state, taken into the buffers they travel in.
    std::shared_lock structure{ctx_.structure};
    for (std::size_t node = 0; node < world; ++node) {
      const auto& keys = travelling[node];
      if (keys.empty()) continue;
      ctx_.rows.extract_deltas(keys.data(), keys.size(), buffers[node].next(values_of(keys)));
      ctx_.counters.deltas_sent.fetch_add(keys.size(), std::memory_order_relaxed);
      // The owner's merge will make it this: no needless refresh.
      for (key_type k : keys) states.replica_record(k).version().fetch_add(1, std::memory_order_acq_rel);
    }
  }
  if (!drop.empty()) take_last_deltas(drop, drop_hops, threshold, to, buffers);
  for (std::size_t node = 0; node < world; ++node) buffers[node].hand_to(to[node]);
  return to;
}

template <class T>
void replica_side<T>::take_last_deltas(const std::vector<key_type>& drop, const std::vector<int>& hops,
                                       double threshold, std::vector<sync_request<T>>& to,
                                       std::vector<delta_buffer>& buffers) {
  // Under the exclusive lock, so no push can land between the last delta and the freeing of
  // the slot; after every write queued to the replica.
  auto& states = ctx_.states;
  std::unique_lock structure{ctx_.structure};
  for (key_type k : drop) states.set_role(k, key_role::absent);
  ctx_.rows.order_after_queued_writes();
  pinned_vector<delta_measure> measures(drop.size());
  if (threshold >= 0) ctx_.rows.measure_deltas(drop.data(), drop.size(), measures.data(), false);
  std::vector<std::vector<key_type>> travelling(to.size());
  std::vector<key_type> kept_here;  // their main copy is on its way here: the delta waits for it
  for (std::size_t i = 0; i < drop.size(); ++i) {
    if (!final_delta_travels(measures[i], threshold)) continue;
    if (hops[i] == ctx_.rank) {
      kept_here.push_back(drop[i]);
    } else {
      to[static_cast<std::size_t>(hops[i])].add_placed(drop[i], sync_ask::delta, 0, ctx_.keys.row_length_of(drop[i]));
      travelling[static_cast<std::size_t>(hops[i])].push_back(drop[i]);
    }
  }
  for (std::size_t node = 0; node < to.size(); ++node) {
    const auto& keys = travelling[node];
    if (keys.empty()) continue;
    ctx_.rows.extract_deltas(keys.data(), keys.size(), buffers[node].next(values_of(keys)));
    ctx_.counters.deltas_sent.fetch_add(keys.size(), std::memory_order_relaxed);
  }
  if (!kept_here.empty()) {
    pinned_vector<T> deltas(values_of(kept_here));
    ctx_.rows.extract_deltas(kept_here.data(), kept_here.size(), deltas.data());
    std::span<const T> rest(deltas);
    for (key_type k : kept_here) {
      const auto mine = rest.first(ctx_.keys.row_length_of(k));
      rest = rest.subspan(mine.size());
      state_.held_deltas[k].assign(mine.begin(), mine.end());  // none left: fold_held_deltas took it
    }
  }
  ctx_.rows.erase(drop.data(), drop.size());
  for (key_type k : drop) {
    state_.replicas.erase(k);
    states.forget(k);
  }
  ctx_.counters.replicas_dropped.fetch_add(drop.size(), std::memory_order_relaxed);
}

template <class T>
std::size_t replica_side<T>::values_of(const std::vector<key_type>& keys) const noexcept {
  std::size_t values = 0;
  for (key_type k : keys) values += ctx_.keys.row_length_of(k);
  return values;
}

namespace {

// Whether the rows of the picked answers (their keys, and where each row starts among the
// answer's values) lie one after another.
bool lie_in_a_row(const key_space& keys, const std::vector<key_type>& picked, const std::vector<std::size_t>& at) {
  for (std::size_t j = 1; j < picked.size(); ++j)
    if (at[j] != at[j - 1] + keys.row_length_of(picked[j - 1])) return false;
  return true;
}

// The rows of the picked answers one after another: where they already lie so in `values`,
// else copied to `scratch`.
template <class T>
const T* picked_rows(const T* values, const key_space& keys, const std::vector<key_type>& picked,
                     const std::vector<std::size_t>& at, pinned_vector<T>& scratch) {
  if (picked.empty()) return values;
  if (lie_in_a_row(keys, picked, at)) return values + at.front();
  for (std::size_t j = 0; j < picked.size(); ++j)
    scratch.insert(scratch.end(), values + at[j], values + at[j] + keys.row_length_of(picked[j]));
  return scratch.data();
}

}  // namespace

template <class T>
void replica_side<T>::apply(const sync_response<T>& answer, int sender) {
  auto& states = ctx_.states;
  // Sort the answers: replicas to refresh (one batched merge) and main copies moving here (one
  // batched merge of their rows, and one of the deltas of replicas dropped while they were on
  // their way here).
  std::vector<std::size_t> refreshed, moved;
  std::vector<key_type> merge_keys, moved_keys, held_keys;
  std::vector<std::size_t> merge_at, moved_at;  // where their rows start among the answer's values
  pinned_vector<T> held_rows;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < answer.keys.size(); ++i) {
    const key_type k = answer.keys[i];
    const key_role role = states.role(k);
    if (role == key_role::pending || role == key_role::replica) {  // always so in an open round
      if (answer.answers[i] == sync_answer::relocated || answer.answers[i] == sync_answer::relocated_shared) {
        moved.push_back(i);
        moved_keys.push_back(k);
        moved_at.push_back(offset);
        if (auto held = state_.held_deltas.find(k); held != state_.held_deltas.end()) {
          held_keys.push_back(k);
          held_rows.insert(held_rows.end(), held->second.begin(), held->second.end());
          state_.held_deltas.erase(held);
        }
      } else {
        refreshed.push_back(i);
        if (answer.answers[i] == sync_answer::value) {
          merge_keys.push_back(k);
          merge_at.push_back(offset);
        }
      }
    }
    if (answer.answers[i] != sync_answer::current) offset += ctx_.keys.row_length_of(k);
  }

  // Rows that came on the data plane are merged from the device where they lie one after
  // another as the merges take them (the owner gathers them so); otherwise they come here first.
  const T* values = answer.values.data();
  pinned_vector<T> arrived_here;
  std::optional<device_scope> on_device;
  bool on_the_device = false;
  if (answer.arrived) {
    row_plane& plane = *ctx_.net.plane();
    on_device.emplace(plane.runtime(), plane.device());
    if (lie_in_a_row(ctx_.keys, merge_keys, merge_at) && lie_in_a_row(ctx_.keys, moved_keys, moved_at)) {
      values = reinterpret_cast<const T*>(answer.arrived->use_on(nullptr));
      plane.runtime().synchronize(nullptr);  // arrived: no lock is held while the rows travel
      ctx_.net.throw_if_failed();  // an aborted transfer's rows are no rows
      on_the_device = true;
    } else {
      arrived_here.resize(offset);
      answer.arrived->copy_to_host(reinterpret_cast<std::byte*>(arrived_here.data()), nullptr);
      ctx_.net.throw_if_failed();
      values = arrived_here.data();
    }
  }
  pinned_vector<T> merge_scratch, moved_scratch;
  const T* merge_rows = picked_rows(values, ctx_.keys, merge_keys, merge_at, merge_scratch);
  const T* moved_rows = picked_rows(values, ctx_.keys, moved_keys, moved_at, moved_scratch);
  // Merges from device rows are not complete when they return: a replica is ready, and a main
  // copy here, only once they are.
  auto merged = [&] {
    if (on_the_device) ctx_.rows.synchronize({});
  };

  if (!refreshed.empty()) {
    std::vector<key_type> untracked;  // a replica's version needs a record
    {
      std::shared_lock shared{ctx_.structure};
      for (std::size_t i : refreshed)
        if (states.find(answer.keys[i]) == nullptr) untracked.push_back(answer.keys[i]);
    }
    if (!untracked.empty()) {
      std::unique_lock exclusive{ctx_.structure};
      for (key_type k : untracked) states.track(k);
    }
    std::shared_lock shared{ctx_.structure};
    ctx_.rows.refresh(merge_keys.data(), merge_keys.size(), merge_rows);
    merged();
    for (std::size_t i : refreshed) {  // ready once the value is merged
      const key_type k = answer.keys[i];
      if (states.role(k) == key_role::pending) ctx_.counters.replicas_created.fetch_add(1, std::memory_order_relaxed);
      states.replica_record(k).version().store(answer.versions[i]);
      states.set_role(k, key_role::replica);
      if (states.home_of(k) != ctx_.rank) states.cache_location(k, sender);
    }
  }
  if (!moved.empty()) {
    std::unique_lock exclusive{ctx_.structure};
    ctx_.rows.refresh(moved_keys.data(), moved_keys.size(), moved_rows);  // main + unsent local pushes
    ctx_.rows.add(held_keys.data(), held_keys.size(), held_rows.data());  // taken from dropped replicas, never sent
    merged();
    for (std::size_t i : moved) {
      const key_type k = answer.keys[i];
      if (states.role(k) == key_role::replica) ctx_.counters.replicas_dropped.fetch_add(1, std::memory_order_relaxed);
      states.track(k).version().store(answer.versions[i] + 1);
      states.set_shared(k, answer.answers[i] == sync_answer::relocated_shared);
      states.received(k, answer.counters[i]);
      state_.arrived[k] = channel_state<T>::clock::now();
      states.set_role(k, key_role::main);
      state_.replicas.erase(k);
      if (states.home_of(k) == ctx_.rank) states.update_owner(k, ctx_.rank, answer.counters[i]);
      ctx_.counters.relocations.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (!refreshed.empty() || !moved.empty()) ctx_.keys_arrived();  // requests waiting for them go on
}

template class replica_side<float>;
template class replica_side<double>;
template class replica_side<std::int64_t>;

}  // namespace gapm::detail
