// key_states: what this node knows about every key: its role here (absent, main copy,
// replica on its way, ready replica), versions and relocation counters, the owner directory
// for the keys it is home for, and the location cache for the others.
//
// Memory follows what a node holds, not the key space: one byte per key (role and the shared
// mark), a record (version, relocation counter, forwarding pointer) only for keys that are
// replicated, held as replicas or ever moved through this node, a directory entry only for home
// keys that moved, and a location cache of fixed size. Below a fixed budget (state.dense_mb) the
// records and the directory are arrays over all keys instead: one load instead of a probe, for
// jobs small enough that it does not matter.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <gapm/types.hpp>

#include "host/adaptive/home_directory.hpp"
#include "host/adaptive/location_cache.hpp"
#include "host/adaptive/routing.hpp"
#include "host/common/flat_key_map.hpp"

namespace gapm::detail {

enum class key_role : std::uint8_t {
  absent,   ///< not here: accesses go to the owner
  main,     ///< the main copy lives here
  pending,  ///< a replica (or the main copy) was asked for; until it arrives, treat as absent
  replica,  ///< a ready replica, kept in sync through deltas
};

/// The state of a key beyond its role, kept only where it carries something.
struct key_record {
  /// Main copy: updates applied since it was first shared; replica: the main version it last
  /// saw (-1: none). Only the versions of shared main copies advance with every update.
  /// Threads holding the shared lock read and advance it at once: use version().
  std::int64_t version_value = -1;
  /// The counter of the last relocation of the key this node took part in (it moves with the
  /// main copy, one up per relocation; the home directory accepts only newer counters).
  /// Written under the exclusive lock only, like successor.
  std::int64_t counter = 0;
  std::int32_t successor = -1;  ///< to whom this node last handed the main copy, or -1

  [[nodiscard]] std::atomic_ref<std::int64_t> version() noexcept { return std::atomic_ref<std::int64_t>{version_value}; }
  [[nodiscard]] std::int64_t version() const noexcept {
    return std::atomic_ref<const std::int64_t>{version_value}.load(std::memory_order_acquire);
  }
};

/// Locking: roles, marks, the directory and the cache are thread-safe. Records are created and
/// erased only under the node's exclusive structure lock, and found and used under the shared
/// one (a record in the map moves when the map grows).
class key_states {
 public:
  /// Records and directory are arrays when they (and the slot index's array for keys homed
  /// elsewhere, slot_index.hpp) take at most `dense_budget` bytes: fits_dense().
  key_states(std::uint64_t num_keys, int rank, int world_size, std::uint64_t dense_budget);
  [[nodiscard]] static bool fits_dense(std::uint64_t num_keys, int world_size, std::uint64_t dense_budget) noexcept;

  [[nodiscard]] int home_of(key_type k) const noexcept {
    return static_cast<int>(k % static_cast<key_type>(world_size_));
  }

  /// Role changes that free or take a row slot happen under the node's exclusive structure
  /// lock; readers hold the shared lock, so a role they read stays true while they use it.
  [[nodiscard]] key_role role(key_type k) const noexcept {
    return static_cast<key_role>(flags_[k].load(std::memory_order_acquire) & role_mask);
  }
  void set_role(key_type k, key_role role) noexcept;
  /// Local pulls and pushes: a main copy or a ready replica.
  [[nodiscard]] bool readable(key_type k) const noexcept {
    const key_role r = role(k);
    return r == key_role::main || r == key_role::replica;
  }

  /// Whether a replica of this main copy was ever handed out (here, or by an owner before this
  /// one: the mark travels with the main copy). Only then do replicas compare versions, so
  /// only then must every update advance the version — most keys are never replicated, and
  /// their pushes skip it. The owner marks a key before it reads the version for a replica,
  /// and a writer checks the mark after its values (both sequentially consistent), so a write
  /// either reaches the replica's value or advances the version it sees. A marked key has a
  /// record (track() it first).
  [[nodiscard]] bool shared(key_type k) const noexcept { return (flags_[k].load() & shared_bit) != 0; }
  void mark_shared(key_type k) noexcept { flags_[k].fetch_or(shared_bit); }
  void set_shared(key_type k, bool shared) noexcept {
    if (shared) flags_[k].fetch_or(shared_bit);
    else flags_[k].fetch_and(static_cast<std::uint8_t>(~shared_bit));
  }

  /// The record of `k`, or null (hold the structure lock, shared or exclusive).
  [[nodiscard]] key_record* find(key_type k) noexcept {
    if (dense_records_.empty()) return records_.find(k);
    return (flags_[k].load(std::memory_order_relaxed) & record_bit) != 0 ? &dense_records_[k] : nullptr;
  }
  [[nodiscard]] const key_record* find(key_type k) const noexcept { return const_cast<key_states*>(this)->find(k); }
  /// The record of a ready replica (and of a pending one being made ready): it has one from
  /// the moment its first value arrived (shared lock).
  [[nodiscard]] key_record& replica_record(key_type k);
  /// The record of `k`, made if it has none (hold the exclusive structure lock).
  key_record& track(key_type k);
  /// Drops the record of a key this node no longer holds, unless it remembers a relocation
  /// (hold the exclusive structure lock; the key's channel only).
  void forget(key_type k);
  [[nodiscard]] std::size_t records() const noexcept { return dense_records_.empty() ? records_.size() : dense_count_; }
  [[nodiscard]] bool dense() const noexcept { return !dense_records_.empty(); }

  /// The version of `k` (see key_record), also for keys without a record (shared lock).
  [[nodiscard]] std::int64_t version(key_type k) const noexcept;
  /// An update reached the main copy `k`: a shared one advances its version (shared lock).
  void advance_version(key_type k) noexcept {
    if (key_record* record = find(k)) record->version().fetch_add(1, std::memory_order_acq_rel);
  }

  /// The main copy of `k` arrived here with `counter` (exclusive lock).
  void received(key_type k, std::int64_t counter) {
    key_record& record = track(k);
    record.counter = counter;
    record.successor = -1;
  }
  /// This node handed the main copy of `k` to `node`; returns the relocation's counter
  /// (exclusive lock).
  std::int64_t handed_over(key_type k, int node) {
    key_record& record = track(k);
    record.counter += 1;
    record.successor = node;
    return record.counter;
  }

  /// What this node knows about where `k` is, for routing a request it cannot serve. Call
  /// with the structure lock held (shared), so that role and record agree.
  [[nodiscard]] key_knowledge knowledge(key_type k) const noexcept;

  /// Home directory (only for keys homed here): the current owner, and the relocation
  /// counter it was last heard of with.
  [[nodiscard]] home_directory::entry owner(key_type k) const { return directory_.find(k); }
  /// Records a relocation if `counter` is newer than what the directory has; thread-safe.
  bool update_owner(key_type k, int owner, std::int64_t counter) { return directory_.update(k, owner, counter); }

  /// Location cache: the node last seen holding the key, or -1.
  [[nodiscard]] int cached_location(key_type k) const noexcept { return cache_.get(k); }
  void cache_location(key_type k, int node) noexcept {
    if (node == rank_) cache_.clear(k);  // a self-claim clears it
    else cache_.put(k, node);
  }

 private:
  static constexpr std::uint8_t role_mask = 0x3;
  static constexpr std::uint8_t shared_bit = 0x4;
  static constexpr std::uint8_t record_bit = 0x8;  // dense records: this key has one

  int rank_;
  int world_size_;
  std::unique_ptr<std::atomic<std::uint8_t>[]> flags_;  // role | shared mark, per key
  flat_key_map<key_record> records_;        // sparse records
  std::vector<key_record> dense_records_;   // or one per key
  std::size_t dense_count_ = 0;
  home_directory directory_;
  location_cache cache_;
};

}  // namespace gapm::detail
