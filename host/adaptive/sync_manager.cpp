#include "host/adaptive/sync_manager.hpp"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <mutex>
#include <shared_mutex>

#include <gapm/errors.hpp>

#include "host/adaptive/delta_rule.hpp"
#include "host/common/expects.hpp"
#include "host/runtime/node_impl.hpp"

namespace gapm::detail {
namespace {

using steady = std::chrono::steady_clock;

// How long a main copy that arrived stays before it may move on: long enough for the
// receive thread to serve the requests that waited for it (a few microseconds when it is not
// starved), short against a sync round trip. Entries for it wait in the channel's parking lot.
constexpr auto dwell = std::chrono::microseconds(500);

constexpr std::uint8_t has_delta = 1, wants_refresh = 2;   // request flags
constexpr std::uint8_t has_value = 1, relocates = 2;       // response flags

[[noreturn]] void malformed(const std::string& what) { throw wire::malformed_message("sync: " + what); }

}  // namespace

template <class T>
sync_manager<T>::sync_manager(node_impl<T>& node, int channel)
    : node_{node},
      channel_{channel},
      intents_{node.options_.workers, channel, node.options_.sync_channels,
               action_timer{node.options_.timing_initial_estimate, node.options_.timing_smoothing,
                            node.options_.timing_quantile, node.options_.time_intent_actions}},
      node_intent_(static_cast<std::size_t>(node.world_size())),
      interval_{node.options_.sync_max_per_sec > 0
                    ? std::chrono::nanoseconds{static_cast<std::int64_t>(1e9 / node.options_.sync_max_per_sec)}
                    : std::chrono::nanoseconds{0}} {
  next_round_ = steady::now();
}

template <class T>
void sync_manager<T>::start() {
  thread_ = std::thread([this] { run(); });
}

template <class T>
sync_manager<T>::~sync_manager() {
  stop();
}

template <class T>
void sync_manager<T>::stop() noexcept {
  {
    std::lock_guard guard{mutex_};
    stop_ = true;
  }
  wake_.notify_all();
  round_done_.notify_all();
  if (thread_.joinable()) thread_.join();
}

template <class T>
void sync_manager<T>::enqueue(wire::message&& message) {
  {
    std::lock_guard guard{mutex_};
    inbox_.push_back(std::move(message));
  }
  wake_.notify_one();
}

template <class T>
void sync_manager<T>::wait_for_round(std::uint64_t target) {
  std::unique_lock lock{mutex_};
  while (rounds_.load() < target && !stop_) {
    round_done_.wait_for(lock, std::chrono::milliseconds(50));
    lock.unlock();
    node_.cluster_->throw_if_failed();  // a dead peer never completes a round
    lock.lock();
  }
  if (rounds_.load() < target) throw logic_error("gapm: wait_sync: the node is shutting down");
}

template <class T>
void sync_manager<T>::resume() noexcept {
  paused_.store(false, std::memory_order_release);
  wake_.notify_one();
}

template <class T>
void sync_manager<T>::wait_idle() {
  std::unique_lock lock{mutex_};
  while (round_open_.load(std::memory_order_acquire) && !stop_) {
    round_done_.wait_for(lock, std::chrono::milliseconds(50));
    lock.unlock();
    node_.cluster_->throw_if_failed();  // a dead peer never completes a round
    lock.lock();
  }
}

template <class T>
void sync_manager<T>::run() {
  std::vector<wire::message> batch;
  while (true) {
    {
      std::unique_lock lock{mutex_};
      const auto until = round_open_ ? steady::now() + std::chrono::milliseconds(1) : next_round_;
      wake_.wait_until(lock, until, [&] { return stop_ || !inbox_.empty(); });
      if (stop_) return;
      batch.assign(std::make_move_iterator(inbox_.begin()), std::make_move_iterator(inbox_.end()));
      inbox_.clear();
    }
    // Each message on its own (a malformed one is dropped and counted without taking the
    // others along); a message that cannot be applied fails the cluster, and the channel stops.
    auto& cluster = *node_.cluster_;
    auto apply = [&](wire::message& message) {
      const int sender = message.head.sender;
      const char* what = wire::kind_name(message.head.kind);
      return cluster.guarded(what, sender, [&] { handle(std::move(message)); }) || !cluster.failed();
    };
    for (auto& message : batch)
      if (!apply(message)) return;
    batch.clear();
    // Requests for keys in transit to this node wait and are tried again.
    for (auto& message : parked_.take_due())
      if (!apply(message)) return;
    if (!round_open_ && !paused_.load(std::memory_order_acquire) && steady::now() >= next_round_) {
      next_round_ = steady::now() + interval_;
      if (!cluster.guarded("a sync round", -1, [&] { start_round(); })) return;
    }
  }
}

template <class T>
std::size_t sync_manager<T>::flagged_values(const std::vector<key_type>& keys, const std::vector<std::uint8_t>& flags,
                                            std::uint8_t flag) const {
  std::size_t values = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] >= node_.keys_.num_keys() || channel_of(keys[i], node_.options_.sync_channels) != channel_)
      malformed("key out of range or of another channel");
    if (flags[i] & flag) values += node_.keys_.row_length_of(keys[i]);
  }
  return values;
}

template <class T>
void sync_manager<T>::send_or_loop(int node, const wire::header& head, const auto&... parts) {
  if (node == node_.rank()) {  // e.g. a forward that comes back to the key's new owner
    wire::header self = head;
    self.sender = node_.rank();
    std::lock_guard guard{mutex_};
    inbox_.push_back(wire::make_message(self, parts...));  // this thread's own inbox: handled next iteration
    return;
  }
  (void)node_.cluster_->send(node, head, parts...);  // a failed send fails the cluster
}

template <class T>
void sync_manager<T>::start_round() {
  auto& states = *node_.states_;
  std::erase_if(arrived_, [now = steady::now()](const auto& arrival) { return now - arrival.second >= dwell; });
  clocks_ = node_.worker_clocks();
  intents_.register_due(clocks_, [&](key_type k) {
    if (states.role(k) == key_role::absent) reacquire_.insert(k);  // wanted here, held elsewhere
  });
  intent_entries_.store(intents_.size(), std::memory_order_relaxed);
  intent_bytes_.store(intents_.memory_bytes(), std::memory_order_relaxed);

  // Keys with intent here but absent: ask their owners (they become pending replicas).
  std::vector<key_type> wanted(reacquire_.begin(), reacquire_.end());
  reacquire_.clear();
  std::sort(wanted.begin(), wanted.end());
  for (key_type k : wanted) {
    if (states.role(k) != key_role::absent || !has_local_intent(k, clocks_)) continue;
    std::unique_lock structure{node_.structure_mutex_};
    if (!node_.insert_row(k)) continue;  // the slot pool is full: accesses stay remote
    states.version(k) = -1;
    states.set_role(k, key_role::pending);
    replicas_.insert(k);
  }

  // Sort this channel's replicas into: keep (delta + refresh), drop (final delta), pending.
  std::vector<key_type> keep, drop;
  std::vector<entry> entries;
  for (auto it = replicas_.begin(); it != replicas_.end();) {
    const key_type k = *it;
    const key_role role = states.role(k);
    if (role == key_role::main || role == key_role::absent) {  // upgraded by a relocation
      it = replicas_.erase(it);
      continue;
    }
    if (role == key_role::pending) entries.push_back({k, wants_refresh, -1});
    else if (has_local_intent(k, clocks_)) keep.push_back(k);
    else drop.push_back(k);
    ++it;
  }

  node_.replica_rounds_.fetch_add(keep.size() + drop.size(), std::memory_order_relaxed);

  // Deltas: value - sync_state, exactly once (dropped replicas under the exclusive lock, so
  // no push can land between their last extraction and the freeing of the slot).
  std::vector<T> keep_deltas, drop_deltas;
  auto rows_of = [&](const std::vector<key_type>& keys) {
    std::size_t values = 0;
    for (key_type k : keys) values += node_.keys_.row_length_of(k);
    return values;
  };
  keep_deltas.resize(rows_of(keep));
  drop_deltas.resize(rows_of(drop));
  {
    std::shared_lock structure{node_.structure_mutex_};
    node_.extract_rows(keep.data(), keep.size(), keep_deltas.data());
  }
  if (!drop.empty()) {
    std::unique_lock structure{node_.structure_mutex_};
    for (key_type k : drop) states.set_role(k, key_role::absent);
    node_.extract_rows(drop.data(), drop.size(), drop_deltas.data());
    for (key_type k : drop) {
      node_.erase_row(k);
      replicas_.erase(k);
    }
    node_.replicas_dropped_.fetch_add(drop.size(), std::memory_order_relaxed);
  }

  // Decide which deltas travel (sync.threshold; a flush sends everything held back), group
  // entries by destination.
  const bool flush = flush_.exchange(false, std::memory_order_acq_rel);
  const double threshold = flush && node_.options_.sync_threshold > 0 ? 0.0 : node_.options_.sync_threshold;
  std::vector<std::vector<key_type>> keys_to(static_cast<std::size_t>(node_.world_size()));
  std::vector<std::vector<std::uint8_t>> flags_to(keys_to.size());
  std::vector<std::vector<std::int64_t>> versions_to(keys_to.size());
  std::vector<std::vector<T>> deltas_to(keys_to.size());
  auto add = [&](key_type k, std::uint8_t flags, std::int64_t version, const T* delta, std::size_t len) {
    const auto to = static_cast<std::size_t>(node_.first_hop(k));
    if (static_cast<int>(to) == node_.rank()) {  // the directory points here: already on its way
      if (flags & has_delta) unsent_deltas_[k].assign(delta, delta + len);
      return;
    }
    keys_to[to].push_back(k);
    flags_to[to].push_back(flags);
    versions_to[to].push_back(version);
    if (flags & has_delta) deltas_to[to].insert(deltas_to[to].end(), delta, delta + len);
  };
  for (const auto& e : entries) add(e.key, e.flags, e.version, nullptr, 0);
  auto with_unsent = [&](key_type k, T* delta, std::size_t len) {
    auto it = unsent_deltas_.find(k);
    if (it == unsent_deltas_.end()) return;
    for (std::size_t j = 0; j < len; ++j) delta[j] += it->second[j];
    unsent_deltas_.erase(it);
  };
  T* delta = keep_deltas.data();
  for (key_type k : keep) {
    const std::size_t len = node_.keys_.row_length_of(k);
    with_unsent(k, delta, len);
    const delta_action action = classify_delta(delta, len, threshold);
    const std::int64_t version = states.version(k).load();
    if (action == delta_action::send) {
      add(k, has_delta | wants_refresh, version, delta, len);
      states.version(k) = version + 1;  // the owner's merge will make it this: no needless refresh
    } else {
      if (action == delta_action::hold) unsent_deltas_[k].assign(delta, delta + len);
      add(k, wants_refresh, version, nullptr, 0);
    }
    delta += len;
  }
  delta = drop_deltas.data();
  for (key_type k : drop) {
    const std::size_t len = node_.keys_.row_length_of(k);
    with_unsent(k, delta, len);
    if (final_delta_travels(delta, len, threshold)) add(k, has_delta, 0, delta, len);
    delta += len;
  }

  // Every peer hears from this round, even with nothing to say.
  ++round_id_;
  round_open_ = true;
  entries_sent_ = 0;
  entries_handled_ = 0;
  acks_ = 0;
  for (int peer = 0; peer < node_.world_size(); ++peer) {
    if (peer == node_.rank()) continue;
    const auto p = static_cast<std::size_t>(peer);
    entries_sent_ += keys_to[p].size();
    wire::header head{.kind = static_cast<std::uint8_t>(wire::kind::sync_request),
                      .origin = node_.rank(),
                      .worker = channel_,
                      .request = round_id_,
                      .count = keys_to[p].size()};
    send_or_loop(peer, head, keys_to[p], flags_to[p], versions_to[p], deltas_to[p]);
  }
  complete_round_if_done();
}

template <class T>
bool sync_manager<T>::just_arrived(key_type key) {
  auto it = arrived_.find(key);
  if (it == arrived_.end()) return false;
  if (steady::now() - it->second < dwell) return true;
  arrived_.erase(it);
  return false;
}

template <class T>
void sync_manager<T>::complete_round_if_done() {
  if (!round_open_ || acks_ < static_cast<std::uint64_t>(node_.world_size() - 1) || entries_handled_ < entries_sent_)
    return;
  {
    std::lock_guard guard{mutex_};  // waiters check both under it
    round_open_ = false;
    rounds_.fetch_add(1);
  }
  round_done_.notify_all();
}

template <class T>
void sync_manager<T>::handle(wire::message&& message) {
  switch (message.kind()) {
    case wire::kind::sync_request: return serve_request(std::move(message));
    case wire::kind::sync_response: return apply_response(message);
    default: malformed("unexpected message kind");
  }
}

template <class T>
void sync_manager<T>::serve_request(wire::message&& message) {
  auto& states = *node_.states_;
  const wire::header& head = message.head;
  const int origin = head.origin;
  const bool first_delivery = head.first_delivery();  // straight from the origin
  if (origin < 0 || origin >= node_.world_size() || (origin == node_.rank() && first_delivery))
    malformed("bad origin");
  wire::payload_reader in(message.payload);
  auto keys = in.read<key_type>(head.count);
  auto flags = in.read<std::uint8_t>(head.count);
  auto versions = in.read<std::int64_t>(head.count);
  if (!keys || !flags || !versions) malformed("request arrays are short");
  auto deltas = in.read<T>(flagged_values(*keys, *flags, has_delta));
  if (!deltas) malformed("request deltas do not match the keys");
  std::vector<std::int64_t> hints(head.count, no_hint);
  if (head.carries_hints()) {
    auto carried = in.read<std::int64_t>(head.count);
    if (!carried) malformed("request routing hints are short");
    hints = std::move(*carried);
  }
  if (in.remaining() != 0) malformed("request payload longer than announced");

  if (first_delivery) node_intent_[static_cast<std::size_t>(origin)].clear();
  clocks_ = node_.worker_clocks();

  std::vector<key_type> out_keys;
  std::vector<std::uint8_t> out_flags;
  std::vector<std::int64_t> out_versions, out_counters;
  std::vector<T> out_values;
  std::vector<std::vector<std::size_t>> forward_to(static_cast<std::size_t>(node_.world_size()));
  std::vector<std::vector<std::int64_t>> forward_hints(forward_to.size());
  std::vector<std::size_t> delta_offset(keys->size() + 1, 0);
  for (std::size_t i = 0; i < keys->size(); ++i)
    delta_offset[i + 1] = delta_offset[i] + (((*flags)[i] & has_delta) ? node_.keys_.row_length_of((*keys)[i]) : 0);
  std::vector<std::size_t> later;  // entries for keys in transit to this node
  std::vector<std::size_t> merge, replicate, relocate;  // entries by what the owner does
  std::vector<key_type> relocated_keys;
  std::vector<int> relocated_owners;
  std::vector<std::int64_t> relocated_counters;
  std::uint64_t handled = 0;

  // 1. Classify. Roles of this channel's keys change on this thread only: no lock needed.
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const key_type k = (*keys)[i];
    const std::uint8_t f = (*flags)[i];
    if (states.role(k) != key_role::main) {
      const next_hop hop = route_request(states.knowledge(k), hints[i]);
      if (hop.what == next_hop::action::wait) {
        later.push_back(i);  // on its way here
      } else {
        forward_to[static_cast<std::size_t>(hop.node)].push_back(i);
        forward_hints[static_cast<std::size_t>(hop.node)].push_back(hop.hint);
      }
      continue;
    }
    const bool refresh = (f & wants_refresh) && origin != node_.rank();  // our own request came back: just merge
    if (refresh && just_arrived(k)) {
      // The key arrived a moment ago: it stays a little, so that the requests that waited for
      // it here are served before it moves on (else they chase it from node to node).
      later.push_back(i);
      continue;
    }
    ++handled;
    if (f & has_delta) merge.push_back(i);
    if (!refresh) continue;
    bool other_intent = has_local_intent(k, clocks_);
    for (std::size_t r = 0; r < node_intent_.size() && !other_intent; ++r)
      other_intent = static_cast<int>(r) != origin && node_intent_[r].contains(k);
    bool moves = !other_intent;
    if (node_.options_.techniques == technique_mode::replication_only) moves = false;
    if (node_.options_.techniques == technique_mode::relocation_only) moves = true;
    node_intent_[static_cast<std::size_t>(origin)].insert(k);
    (moves ? relocate : replicate).push_back(i);
  }
  auto keys_of = [&](const std::vector<std::size_t>& picks) {
    std::vector<key_type> out;
    out.reserve(picks.size());
    for (std::size_t i : picks) out.push_back((*keys)[i]);
    return out;
  };
  auto values_of = [&](const std::vector<key_type>& ks) {
    std::size_t values = 0;
    for (key_type k : ks) values += node_.keys_.row_length_of(k);
    return values;
  };

  // 2. Merge every delta, then answer refreshes by replication: the version is read before
  //    the value, so a push that lands in between makes the replica look stale next round
  //    (one more transfer), never up to date without the push.
  {
    std::shared_lock shared{node_.structure_mutex_};
    if (!merge.empty()) {
      const auto merge_keys = keys_of(merge);
      std::vector<T> merge_rows;
      merge_rows.reserve(values_of(merge_keys));
      for (std::size_t i : merge)
        merge_rows.insert(merge_rows.end(), deltas->begin() + static_cast<std::ptrdiff_t>(delta_offset[i]),
                          deltas->begin() + static_cast<std::ptrdiff_t>(delta_offset[i + 1]));
      node_.write_rows(write_kind::add, merge_keys.data(), merge_keys.size(), merge_rows.data());
      for (key_type k : merge_keys) states.version(k).fetch_add(1);
    }
    std::vector<key_type> stale_keys;
    for (std::size_t i : replicate) {
      const key_type k = (*keys)[i];
      const std::int64_t main_version = states.version(k).load();
      const std::int64_t replica_expects = (*versions)[i] + (((*flags)[i] & has_delta) ? 1 : 0);
      const bool stale = replica_expects < main_version;
      out_keys.push_back(k);
      out_flags.push_back(stale ? has_value : 0);
      out_versions.push_back(main_version);
      out_counters.push_back(0);
      if (stale) stale_keys.push_back(k);
    }
    out_values.resize(values_of(stale_keys));
    node_.gather_rows(stale_keys.data(), stale_keys.size(), out_values.data());
  }

  // 3. Relocate: the main copy, its version and counter travel; the home learns the owner.
  if (!relocate.empty()) {
    const auto moving = keys_of(relocate);
    std::vector<T> rows(values_of(moving));
    std::unique_lock exclusive{node_.structure_mutex_};
    node_.gather_rows(moving.data(), moving.size(), rows.data());
    out_values.insert(out_values.end(), rows.begin(), rows.end());
    for (key_type k : moving) {
      const bool keep_asking = has_local_intent(k, clocks_);  // relocation_only ping-pong
      states.set_role(k, key_role::absent);
      node_.erase_row(k);
      const std::int64_t counter = states.handed_over(k, origin);  // the forwarding pointer
      out_keys.push_back(k);
      out_flags.push_back(has_value | relocates);
      out_versions.push_back(states.version(k).load());
      out_counters.push_back(counter);
      if (states.home_of(k) == node_.rank()) {
        states.update_owner(k, origin, counter);
      } else {
        states.cache_location(k, origin);
        if (states.home_of(k) != origin) {
          relocated_keys.push_back(k);
          relocated_owners.push_back(origin);
          relocated_counters.push_back(counter);
        }
      }
      if (keep_asking) reacquire_.insert(k);
    }
  }

  // Answer the origin: what was handled here, and the acknowledgement of a direct message.
  // A forwarded message that handled nothing here owes the origin nothing.
  const std::vector<std::uint64_t> tally{handled, first_delivery ? 1u : 0u};
  if (tally[0] > 0 || tally[1] > 0) {
  wire::header answer{.kind = static_cast<std::uint8_t>(wire::kind::sync_response),
                      .origin = origin,
                      .worker = channel_,
                      .request = head.request,
                      .count = out_keys.size()};
  send_or_loop(origin, answer, tally, out_keys, out_flags, out_versions, out_counters, out_values);
  }

  if (!relocated_keys.empty()) {
    std::vector<std::vector<std::size_t>> by_home(static_cast<std::size_t>(node_.world_size()));
    for (std::size_t i = 0; i < relocated_keys.size(); ++i)
      by_home[static_cast<std::size_t>(states.home_of(relocated_keys[i]))].push_back(i);
    for (std::size_t home = 0; home < by_home.size(); ++home) {
      if (by_home[home].empty()) continue;
      std::vector<key_type> k;
      std::vector<int> o;
      std::vector<std::int64_t> c;
      for (std::size_t i : by_home[home]) {
        k.push_back(relocated_keys[i]);
        o.push_back(relocated_owners[i]);
        c.push_back(relocated_counters[i]);
      }
      wire::header update{.kind = static_cast<std::uint8_t>(wire::kind::directory_update),
                          .origin = node_.rank(), .count = k.size()};
      send_or_loop(static_cast<int>(home), update, k, o, c);
    }
  }

  // Forward what is not ours (and park what is on its way here), keeping the origin.
  auto repack = [&](const std::vector<std::size_t>& picks, const wire::header& next) {
    wire::message out;
    out.head = next;
    std::vector<key_type> k;
    std::vector<std::uint8_t> f;
    std::vector<std::int64_t> v;
    std::vector<T> d;
    for (std::size_t i : picks) {
      k.push_back((*keys)[i]);
      f.push_back((*flags)[i]);
      v.push_back((*versions)[i]);
      d.insert(d.end(), deltas->begin() + static_cast<std::ptrdiff_t>(delta_offset[i]),
               deltas->begin() + static_cast<std::ptrdiff_t>(delta_offset[i + 1]));
    }
    out.head.count = k.size();
    out.head.flags = static_cast<std::uint8_t>(out.head.flags | wire::has_hints);
    return std::tuple{out.head, k, f, v, d};
  };
  for (std::size_t to = 0; to < forward_to.size(); ++to) {
    if (forward_to[to].empty()) continue;
    auto [h, k, f, v, d] = repack(forward_to[to], wire::forwarded(head, (*keys)[forward_to[to].front()]));
    send_or_loop(static_cast<int>(to), h, k, f, v, d, forward_hints[to]);
  }
  if (!later.empty()) {  // a re-delivery, not a new direct message: no second acknowledgement
    auto [h, k, f, v, d] = repack(later, wire::parked(head, (*keys)[later.front()]));
    std::vector<std::int64_t> waiting_hints;
    for (std::size_t i : later) waiting_hints.push_back(hints[i]);
    h.sender = node_.rank();
    parked_.park(wire::make_message(h, k, f, v, d, waiting_hints));
  }
}

template <class T>
void sync_manager<T>::apply_response(const wire::message& message) {
  auto& states = *node_.states_;
  const wire::header& head = message.head;
  wire::payload_reader in(message.payload);
  auto tally = in.read<std::uint64_t>(2);
  auto keys = in.read<key_type>(head.count);
  auto flags = in.read<std::uint8_t>(head.count);
  auto versions = in.read<std::int64_t>(head.count);
  auto counters = in.read<std::int64_t>(head.count);
  if (!tally || !keys || !flags || !versions || !counters) malformed("response arrays are short");
  auto rows = in.read<T>(flagged_values(*keys, *flags, has_value));
  if (!rows || in.remaining() != 0) malformed("response values do not match the keys");
  if (head.request != round_id_ || !round_open_) malformed("response to a round that is not open");

  // Sort the answers: replicas to refresh (one batched merge) and main copies moving here.
  std::vector<std::size_t> refreshed, moved;
  std::vector<key_type> merge_keys;
  std::vector<T> merge_rows;
  std::vector<const T*> moved_values;
  const T* value = rows->data();
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const key_type k = (*keys)[i];
    const std::size_t len = node_.keys_.row_length_of(k);
    const bool with_value = (*flags)[i] & has_value;
    const key_role role = states.role(k);
    if (role == key_role::pending || role == key_role::replica) {  // always so in an open round
      if ((*flags)[i] & relocates) {
        moved.push_back(i);
        moved_values.push_back(value);
      } else {
        refreshed.push_back(i);
        if (with_value) {
          merge_keys.push_back(k);
          merge_rows.insert(merge_rows.end(), value, value + len);
        }
      }
    }
    if (with_value) value += len;
  }

  if (!refreshed.empty()) {
    std::shared_lock shared{node_.structure_mutex_};
    node_.refresh_rows(merge_keys.data(), merge_keys.size(), merge_rows.data());
    for (std::size_t i : refreshed) {  // ready once the value is merged
      const key_type k = (*keys)[i];
      if (states.role(k) == key_role::pending) node_.replicas_created_.fetch_add(1, std::memory_order_relaxed);
      states.version(k) = (*versions)[i];
      states.set_role(k, key_role::replica);
      if (states.home_of(k) != node_.rank()) states.cache_location(k, head.sender);
    }
  }
  if (!moved.empty()) {
    std::unique_lock exclusive{node_.structure_mutex_};
    for (std::size_t m = 0; m < moved.size(); ++m) {
      const std::size_t i = moved[m];
      const key_type k = (*keys)[i];
      node_.refresh_rows(&k, 1, moved_values[m]);  // main + unsent local pushes: they join the main copy
      if (auto unsent = unsent_deltas_.find(k); unsent != unsent_deltas_.end()) {
        // Extracted below sync.threshold but never sent: it belongs to the main copy now.
        node_.write_rows(write_kind::add, &k, 1, unsent->second.data());
        unsent_deltas_.erase(unsent);
      }
      if (states.role(k) == key_role::replica) node_.replicas_dropped_.fetch_add(1, std::memory_order_relaxed);
      states.version(k) = (*versions)[i] + 1;
      states.received(k, (*counters)[i]);
      arrived_[k] = steady::now();
      states.set_role(k, key_role::main);
      replicas_.erase(k);
      if (states.home_of(k) == node_.rank()) states.update_owner(k, node_.rank(), (*counters)[i]);
      node_.relocations_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (!refreshed.empty() || !moved.empty()) {  // keys arrived: requests waiting for them go on
    parked_.wake();
    node_.parked_.wake();
  }
  entries_handled_ += (*tally)[0];
  acks_ += (*tally)[1];
  complete_round_if_done();
}

template class sync_manager<float>;
template class sync_manager<double>;
template class sync_manager<std::int64_t>;

}  // namespace gapm::detail
