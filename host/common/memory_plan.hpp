// memory_plan: what a node will allocate in host memory, checked before it allocates
// anything, so that an impossible configuration fails with a message that names the table and
// the bytes instead of a bare std::bad_alloc (or the kernel's OOM killer) halfway through.
#pragma once

#include <cstdint>
#include <string>

#include "host/common/key_space.hpp"

namespace gapm::detail {

struct memory_plan_input {
  const key_space* keys = nullptr;
  int rank = 0;
  int world_size = 1;
  std::size_t value_bytes = 4;  ///< sizeof(T)
  bool rows_on_host = true;     ///< false when the rows live in GPU memory
  std::uint64_t dense_state_bytes = 0;  ///< option state.dense_mb, in bytes
};

/// Host bytes the node needs at start for table `t` (its home keys' rows and the per-key
/// bookkeeping); `what` receives a short breakdown.
[[nodiscard]] std::uint64_t planned_bytes(const memory_plan_input& in, std::size_t t, std::string& what);

/// Memory this process can still allocate: MemAvailable + SwapFree, lowered by a cgroup limit.
[[nodiscard]] std::uint64_t available_memory_bytes();

/// Throws gapm::error naming the first table that does not fit (and the totals) when the
/// plan exceeds `available` bytes.
void check_memory_plan(const memory_plan_input& in, std::uint64_t available);

/// Whether a node of `world_size` keeps its per-key bookkeeping as arrays over all `num_keys`
/// keys: a record (`record_bytes`), a directory entry per home key (8 bytes) and a slot index
/// entry (4 bytes) per key fit in `budget` bytes (option state.dense_mb; key_states.hpp).
[[nodiscard]] bool dense_state_fits(std::uint64_t num_keys, int world_size, std::uint64_t budget,
                                    std::uint64_t record_bytes = 24) noexcept;

/// "1.5 GiB": bytes for people.
[[nodiscard]] std::string human_bytes(double bytes);

}  // namespace gapm::detail
