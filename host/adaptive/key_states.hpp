// key_states: what this node knows about every key: its role here (absent, main copy,
// replica on its way, ready replica), versions and relocation counters, the owner directory
// for the keys it is home for, and the location cache for the others.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include <gapm/types.hpp>

#include "host/adaptive/routing.hpp"

namespace gapm::detail {

enum class key_role : std::uint8_t {
  absent,   ///< not here: accesses go to the owner
  main,     ///< the main copy lives here
  pending,  ///< a replica (or the main copy) was asked for; until it arrives, treat as absent
  replica,  ///< a ready replica, kept in sync through deltas
};

class key_states {
 public:
  key_states(std::uint64_t num_keys, int rank, int world_size);

  [[nodiscard]] int home_of(key_type k) const noexcept {
    return static_cast<int>(k % static_cast<key_type>(world_size_));
  }

  /// Role changes that free or take a row slot happen under the node's exclusive structure
  /// lock; readers hold the shared lock, so a role they read stays true while they use it.
  [[nodiscard]] key_role role(key_type k) const noexcept { return roles_[k].load(std::memory_order_acquire); }
  void set_role(key_type k, key_role role) noexcept { roles_[k].store(role, std::memory_order_release); }
  /// Local pulls and pushes: a main copy or a ready replica.
  [[nodiscard]] bool readable(key_type k) const noexcept {
    const key_role r = role(k);
    return r == key_role::main || r == key_role::replica;
  }

  /// Main copy: updates applied so far; replica: the main version it last saw (-1: none).
  /// Only the versions of shared main copies advance with every update (see shared()).
  std::atomic<std::int64_t>& version(key_type k) noexcept { return versions_[k]; }

  /// Whether a replica of this main copy was ever handed out (here, or by an owner before this
  /// one: the mark travels with the main copy). Only then do replicas compare versions, so
  /// only then must every update advance the version — most keys are never replicated, and
  /// their pushes skip it. The owner marks a key before it reads the version for a replica,
  /// and a writer checks the mark after its values (both sequentially consistent), so a write
  /// either reaches the replica's value or advances the version it sees.
  [[nodiscard]] bool shared(key_type k) const noexcept { return shared_[k].load(); }
  void mark_shared(key_type k) noexcept { shared_[k].store(true); }
  void set_shared(key_type k, bool shared) noexcept { shared_[k].store(shared); }

  /// The counter of the last relocation of `k` this node took part in (it moves with the
  /// main copy, one up per relocation; the home directory accepts only newer counters).
  [[nodiscard]] std::int64_t relocation_counter(key_type k) const noexcept {
    return relocation_counters_[k].load(std::memory_order_acquire);
  }
  /// The main copy of `k` arrived here with `counter`.
  void received(key_type k, std::int64_t counter) noexcept {
    relocation_counters_[k].store(counter, std::memory_order_release);
    successors_[k].store(-1, std::memory_order_release);
  }
  /// This node handed the main copy of `k` to `node`; returns the relocation's counter.
  std::int64_t handed_over(key_type k, int node) noexcept {
    const std::int64_t counter = relocation_counters_[k].load(std::memory_order_relaxed) + 1;
    relocation_counters_[k].store(counter, std::memory_order_release);
    successors_[k].store(node, std::memory_order_release);
    return counter;
  }

  /// What this node knows about where `k` is, for routing a request it cannot serve. Call
  /// with the structure lock held (shared), so that role and pointers agree.
  [[nodiscard]] key_knowledge knowledge(key_type k) const noexcept;

  /// Home directory (only for keys homed here): the current owner, and the relocation
  /// counter it was last heard of with.
  [[nodiscard]] int owner(key_type k) const noexcept {
    return directory_owner_[k / static_cast<key_type>(world_size_)].load(std::memory_order_acquire);
  }
  [[nodiscard]] std::int64_t owner_counter(key_type k) const noexcept {
    return directory_counter_[k / static_cast<key_type>(world_size_)].load(std::memory_order_acquire);
  }
  /// Records a relocation if `counter` is newer than what the directory has; thread-safe.
  bool update_owner(key_type k, int owner, std::int64_t counter) noexcept;

  /// Location cache: the node last seen holding the key, or -1.
  [[nodiscard]] int cached_location(key_type k) const noexcept { return cache_[k].load(std::memory_order_relaxed); }
  void cache_location(key_type k, int node) noexcept {
    cache_[k].store(node == rank_ ? -1 : node, std::memory_order_relaxed);  // a self-claim clears it
  }

 private:
  int rank_;
  int world_size_;
  std::unique_ptr<std::atomic<key_role>[]> roles_;
  std::unique_ptr<std::atomic<std::int64_t>[]> versions_;
  std::unique_ptr<std::atomic<bool>[]> shared_;
  std::unique_ptr<std::atomic<std::int64_t>[]> relocation_counters_;
  std::unique_ptr<std::atomic<int>[]> successors_;  // forwarding pointers, -1: none
  std::unique_ptr<std::atomic<int>[]> cache_;
  std::unique_ptr<std::atomic<int>[]> directory_owner_;
  std::unique_ptr<std::atomic<std::int64_t>[]> directory_counter_;
};

}  // namespace gapm::detail
