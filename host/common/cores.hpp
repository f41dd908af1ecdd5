// How many cores a process may use, and how many sync channels that calls for.
#pragma once

namespace gapm::detail {

/// CPUs this process may run on (its affinity mask), at least 1.
[[nodiscard]] int usable_cores() noexcept;

/// The sync channels of option `sync.channels=0` (auto) for a process that may use `cores`
/// cores, shared with `processes` gapm processes on the same machine: half a core's worth per
/// channel, at least 1, at most 4, a power of two. Each channel is a thread that runs up to
/// `sync.max_per_sec` rounds a second and messages every peer; where processes have few cores
/// each, more channels only add threads that take turns (MF with plain SGD on 2 processes of
/// 1 core each ran 1.75x faster with one channel than with four).
[[nodiscard]] int auto_sync_channels(int cores, int processes) noexcept;

}  // namespace gapm::detail
