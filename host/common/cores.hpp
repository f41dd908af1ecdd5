// How many cores a process may use, and how many sync channels that calls for.
#pragma once

namespace gapm::detail {

/// CPUs this process may run on (its affinity mask), at least 1.
[[nodiscard]] int usable_cores() noexcept;
/// CPUs of this machine, at least 1.
[[nodiscard]] int machine_cores() noexcept;

/// The sync channels of option `sync.channels=0` (auto) for a process that may run on `cores`
/// CPUs (its affinity mask) of a machine with `machine` CPUs shared by `processes` gapm
/// processes: its share is the smaller of its mask and the machine's CPUs per process (a
/// launcher that pins processes has divided already; one that does not leaves the whole
/// machine in every mask). One channel per two cores of that share, at least 1, at most 4, a
/// power of two. Each channel is a thread that runs up to `sync.max_per_sec` rounds a second
/// and messages every peer; where processes have few cores each, more channels only add
/// threads that take turns (MF with plain SGD on 2 processes sharing 2 cores ran 1.75x faster
/// with one channel than with four).
[[nodiscard]] int auto_sync_channels(int cores, int machine, int processes) noexcept;

}  // namespace gapm::detail
