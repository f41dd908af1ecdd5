#include "host/adaptive/replica_side.hpp"

#include <algorithm>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "host/adaptive/delta_rule.hpp"
#include "host/common/value_type.hpp"

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

template <class T>
void replica_side<T>::add(std::vector<sync_request<T>>& to, key_type key, std::uint8_t ask, std::int64_t version,
                          std::span<const T> delta) {
  const int node = ctx_.first_hop(key);
  if (node == ctx_.rank) {  // the directory points here: the main copy is on its way
    if (ask & sync_ask::delta) state_.held_deltas[key].assign(delta.begin(), delta.end());
    return;
  }
  to[static_cast<std::size_t>(node)].add(key, ask, version, delta);
}

template <class T>
void replica_side<T>::add_held_delta(key_type key, std::span<T> delta) {
  auto it = state_.held_deltas.find(key);
  if (it == state_.held_deltas.end()) return;
  for (std::size_t j = 0; j < delta.size(); ++j) delta[j] = wrapping_add(delta[j], it->second[j]);
  state_.held_deltas.erase(it);
}

template <class T>
std::vector<sync_request<T>> replica_side<T>::build_round(bool flush) {
  auto& states = ctx_.states;
  std::erase_if(state_.arrived, [now = channel_state<T>::clock::now()](const auto& arrival) {
    return now - arrival.second >= std::chrono::microseconds(500);  // owner_side::dwell, long past
  });
  state_.clocks = ctx_.worker_clocks();
  state_.intents.register_due(state_.clocks, [&](key_type k) {
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

  // Deltas, exactly once: value - sync_state. A dropped replica's last delta is taken under
  // the exclusive lock, so no push can land between it and the freeing of the slot.
  auto values_of = [&](const std::vector<key_type>& keys) {
    std::size_t values = 0;
    for (key_type k : keys) values += ctx_.keys.row_length_of(k);
    return values;
  };
  std::vector<T> keep_deltas(values_of(keep)), drop_deltas(values_of(drop));
  std::vector<std::int64_t> keep_versions(keep.size());  // only this thread changes them
  {
    std::shared_lock structure{ctx_.structure};
    ctx_.rows.extract_deltas(keep.data(), keep.size(), keep_deltas.data());
    for (std::size_t i = 0; i < keep.size(); ++i) keep_versions[i] = states.replica_record(keep[i]).version();
  }
  if (!drop.empty()) {
    std::unique_lock structure{ctx_.structure};
    for (key_type k : drop) states.set_role(k, key_role::absent);
    ctx_.rows.order_after_queued_writes();  // the last delta holds every write queued to the replica
    ctx_.rows.extract_deltas(drop.data(), drop.size(), drop_deltas.data());
    ctx_.rows.erase(drop.data(), drop.size());
    for (key_type k : drop) {
      state_.replicas.erase(k);
      states.forget(k);
    }
    ctx_.counters.replicas_dropped.fetch_add(drop.size(), std::memory_order_relaxed);
  }

  // Which deltas travel (sync.threshold; a flush sends what was held back), by first hop.
  const double threshold = flush && ctx_.options.sync_threshold > 0 ? 0.0 : ctx_.options.sync_threshold;
  std::vector<sync_request<T>> to(static_cast<std::size_t>(ctx_.world_size));
  for (key_type k : pending) add(to, k, sync_ask::refresh, -1, {});
  std::span<T> delta(keep_deltas);
  std::vector<key_type> sent;  // their deltas travel
  for (std::size_t i = 0; i < keep.size(); ++i) {
    const key_type k = keep[i];
    const auto mine = delta.first(ctx_.keys.row_length_of(k));
    delta = delta.subspan(mine.size());
    add_held_delta(k, mine);
    const delta_action action = classify_delta(mine.data(), mine.size(), threshold);
    const std::int64_t version = keep_versions[i];
    if (action == delta_action::send) {
      add(to, k, sync_ask::delta | sync_ask::refresh, version, mine);
      sent.push_back(k);
    } else {
      if (action == delta_action::hold) state_.held_deltas[k].assign(mine.begin(), mine.end());
      add(to, k, sync_ask::refresh, version, {});
    }
  }
  if (!sent.empty()) {  // the owner's merge will make it this: no needless refresh
    std::shared_lock structure{ctx_.structure};
    for (key_type k : sent) states.replica_record(k).version().fetch_add(1, std::memory_order_acq_rel);
  }
  delta = std::span<T>(drop_deltas);
  for (key_type k : drop) {
    const auto mine = delta.first(ctx_.keys.row_length_of(k));
    delta = delta.subspan(mine.size());
    add_held_delta(k, mine);
    if (final_delta_travels(mine.data(), mine.size(), threshold)) add(to, k, sync_ask::delta, 0, mine);
  }
  return to;
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
                     const std::vector<std::size_t>& at, std::vector<T>& scratch) {
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
  // batched merge of their rows, and one of the deltas held back below sync.threshold).
  std::vector<std::size_t> refreshed, moved;
  std::vector<key_type> merge_keys, moved_keys, held_keys;
  std::vector<std::size_t> merge_at, moved_at;  // where their rows start among the answer's values
  std::vector<T> held_rows;
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
  std::vector<T> arrived_here;
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
  std::vector<T> merge_scratch, moved_scratch;
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
    ctx_.rows.add(held_keys.data(), held_keys.size(), held_rows.data());  // extracted below sync.threshold, never sent
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
