#include "host/adaptive/key_states.hpp"

namespace gapm::detail {

key_states::key_states(std::uint64_t num_keys, int rank, int world_size)
    : rank_{rank},
      world_size_{world_size},
      roles_{std::make_unique<std::atomic<key_role>[]>(num_keys)},
      versions_{std::make_unique<std::atomic<std::int64_t>[]>(num_keys)},
      shared_{std::make_unique<std::atomic<bool>[]>(num_keys)},
      relocation_counters_{std::make_unique<std::atomic<std::int64_t>[]>(num_keys)},
      successors_{std::make_unique<std::atomic<int>[]>(num_keys)},
      cache_{std::make_unique<std::atomic<int>[]>(num_keys)} {
  const std::uint64_t homed = num_keys / static_cast<std::uint64_t>(world_size) + 1;
  directory_owner_ = std::make_unique<std::atomic<int>[]>(homed);
  directory_counter_ = std::make_unique<std::atomic<std::int64_t>[]>(homed);
  for (std::uint64_t i = 0; i < homed; ++i) directory_owner_[i] = rank;  // every key starts at home
  for (key_type k = 0; k < num_keys; ++k) {
    roles_[k] = home_of(k) == rank ? key_role::main : key_role::absent;
    versions_[k] = home_of(k) == rank ? 0 : -1;
    cache_[k] = -1;
    successors_[k] = -1;
    shared_[k] = false;
  }
}

key_knowledge key_states::knowledge(key_type k) const noexcept {
  key_knowledge known;
  known.rank = rank_;
  known.home = home_of(k);
  const key_role r = role(k);
  known.requested = r == key_role::pending || r == key_role::replica;  // replicas ask every round
  known.last_event = relocation_counter(k);
  known.successor = successors_[k].load(std::memory_order_acquire);
  if (known.home == rank_) {
    known.directory_owner = owner(k);
    known.directory_counter = owner_counter(k);
  }
  return known;
}

bool key_states::update_owner(key_type k, int owner, std::int64_t counter) noexcept {
  const key_type slot = k / static_cast<key_type>(world_size_);
  std::int64_t known = directory_counter_[slot].load();
  while (counter > known)
    if (directory_counter_[slot].compare_exchange_weak(known, counter)) {
      directory_owner_[slot].store(owner, std::memory_order_release);
      return true;
    }
  return false;
}

}  // namespace gapm::detail
