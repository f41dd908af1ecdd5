// The CPU-only build: no device platform. The device store is compiled (and tested against
// the emulation), but a node of this build keeps its rows in the CPU store.
#include "cuda/device_platform.hpp"

namespace gapm::detail {

const device_platform* active_device_platform() noexcept { return nullptr; }

}  // namespace gapm::detail
