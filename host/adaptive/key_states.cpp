#include "host/adaptive/key_states.hpp"

#include <stdexcept>
#include <string>

#include "host/common/expects.hpp"
#include "host/common/memory_plan.hpp"

namespace gapm::detail {

bool key_states::fits_dense(std::uint64_t num_keys, int world_size, std::uint64_t dense_budget) noexcept {
  return dense_state_fits(num_keys, world_size, dense_budget, sizeof(key_record));  // the plan's rule
}

key_states::key_states(std::uint64_t num_keys, int rank, int world_size, std::uint64_t dense_budget)
    : rank_{rank},
      world_size_{world_size},
      flags_{std::make_unique<std::atomic<std::uint8_t>[]>(num_keys)},
      directory_{rank, world_size, num_keys, fits_dense(num_keys, world_size, dense_budget)},
      cache_{num_keys} {
  GAPM_EXPECTS(num_keys < (std::uint64_t{1} << 48) && world_size < (1 << 16) - 1,
               "adaptive management supports up to 2^48 keys and 65,534 nodes");
  const auto main = static_cast<std::uint8_t>(key_role::main);
  const auto absent = static_cast<std::uint8_t>(key_role::absent);
  for (key_type k = 0; k < num_keys; ++k)
    flags_[k].store(home_of(k) == rank ? main : absent, std::memory_order_relaxed);
  if (fits_dense(num_keys, world_size, dense_budget)) dense_records_.resize(num_keys);
}

void key_states::set_role(key_type k, key_role role) noexcept {
  std::uint8_t seen = flags_[k].load(std::memory_order_relaxed);
  while (!flags_[k].compare_exchange_weak(seen, static_cast<std::uint8_t>((seen & ~role_mask) | static_cast<std::uint8_t>(role)),
                                          std::memory_order_acq_rel)) {
  }
}

key_record& key_states::track(key_type k) {
  const key_record fresh{.version_value = role(k) == key_role::main ? 0 : -1};
  if (dense_records_.empty()) return *records_.try_emplace(k, fresh).first;
  if ((flags_[k].fetch_or(record_bit) & record_bit) == 0) {
    dense_records_[k] = fresh;
    ++dense_count_;
  }
  return dense_records_[k];
}

key_record& key_states::replica_record(key_type k) {
  key_record* record = find(k);
  if (record == nullptr) throw std::logic_error("gapm: internal: replica of key " + std::to_string(k) + " without a record");
  return *record;
}

void key_states::forget(key_type k) {
  const key_record* known = find(k);
  if (known == nullptr || known->counter != 0) return;
  if (dense_records_.empty()) {
    records_.erase(k);
  } else {
    flags_[k].fetch_and(static_cast<std::uint8_t>(~record_bit));
    --dense_count_;
  }
}

std::int64_t key_states::version(key_type k) const noexcept {
  if (const key_record* record = find(k)) return record->version();
  return role(k) == key_role::main ? 0 : -1;
}

key_knowledge key_states::knowledge(key_type k) const noexcept {
  key_knowledge known;
  known.rank = rank_;
  known.home = home_of(k);
  const key_role r = role(k);
  known.requested = r == key_role::pending || r == key_role::replica;  // replicas ask every round
  if (const key_record* record = find(k)) {
    known.last_event = record->counter;
    known.successor = record->successor;
  } else {
    known.last_event = 0;
  }
  if (known.home == rank_) {
    const home_directory::entry owner = directory_.find(k);
    known.directory_owner = owner.owner;
    known.directory_counter = owner.counter;
  }
  return known;
}

}  // namespace gapm::detail
