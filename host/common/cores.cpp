#include "host/common/cores.hpp"

#include <sched.h>

#include <algorithm>
#include <bit>
#include <thread>

namespace gapm::detail {

int usable_cores() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return machine_cores();
}

int machine_cores() noexcept { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

int auto_sync_channels(int cores, int machine, int processes) noexcept {
  const int per_process = std::min(std::max(1, cores), std::max(1, machine) / std::max(1, processes));
  return static_cast<int>(std::bit_floor(static_cast<unsigned>(std::clamp(per_process / 2, 1, 4))));
}

}  // namespace gapm::detail
