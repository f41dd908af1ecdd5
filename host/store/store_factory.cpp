#include "host/store/store_factory.hpp"

#include <algorithm>
#include <cstdint>

#include <gapm/errors.hpp>

#include "cuda/device_platform.hpp"
#include "cuda/device_store.hpp"
#include "host/common/expects.hpp"
#include "host/store/cpu_store.hpp"

namespace gapm::detail {

store_kind resolve_store_kind(store_kind requested) {
  const device_platform* platform = active_device_platform();
  const bool has_device = platform != nullptr && platform->runtime.device_count() > 0;
  if (requested == store_kind::auto_select) return has_device ? store_kind::cuda : store_kind::cpu;
  if (requested == store_kind::cuda && !has_device) {
#if GAPM_WITH_CUDA
    throw unsupported_error("gapm: option 'store=cuda' but no CUDA device is visible");
#else
    throw unsupported_error("gapm: option 'store=cuda' but this is the CPU-only build of gapm "
                            "(configure with -DGAPM_ENABLE_CUDA=ON)");
#endif
  }
  return requested;
}

template <class T>
std::unique_ptr<store_backend<T>> make_store(store_kind kind, key_type first_key, const table_spec& table,
                                             home_keys home, const Options& options, int device,
                                             bool replicas_possible) {
  const std::uint64_t requested = options.capacity == 0 ? table.num_keys : options.capacity;
  const std::uint64_t capacity = std::min(requested, table.num_keys);
  if (kind == store_kind::cuda)
    return make_device_store<T>(*active_device_platform(), device, first_key, table.num_keys, table.row_length,
                                options.capacity == 0 ? 0 : capacity, options.capacity_fraction, replicas_possible, home);
  GAPM_EXPECTS(kind == store_kind::cpu, "store kind not available in this build");
  return std::make_unique<cpu_store<T>>(first_key, table.num_keys, table.row_length, capacity, home);
}

#define GAPM_INSTANTIATE_MAKE_STORE(T)                                                                            \
  template std::unique_ptr<store_backend<T>> make_store<T>(store_kind, key_type, const table_spec&, home_keys, \
                                                           const Options&, int, bool);
GAPM_INSTANTIATE_MAKE_STORE(float)
GAPM_INSTANTIATE_MAKE_STORE(double)
GAPM_INSTANTIATE_MAKE_STORE(std::int64_t)
#undef GAPM_INSTANTIATE_MAKE_STORE

}  // namespace gapm::detail
