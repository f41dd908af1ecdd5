#include "host/store/store_factory.hpp"

#include <algorithm>
#include <cstdint>

#include <gapm/errors.hpp>

#include "host/store/cpu_store.hpp"
#include "host/common/expects.hpp"
#if GAPM_WITH_CUDA
#include "cuda/cuda_store.hpp"
#endif

namespace gapm::detail {

store_kind resolve_store_kind(store_kind requested) {
#if GAPM_WITH_CUDA
  const int devices = cuda_device_count();
  if (requested == store_kind::auto_select) return devices > 0 ? store_kind::cuda : store_kind::cpu;
  if (requested == store_kind::cuda && devices == 0)
    throw unsupported_error("gapm: option 'store=cuda' but no CUDA device is visible");
  return requested;
#else
  if (requested == store_kind::cuda)
    throw unsupported_error("gapm: option 'store=cuda' but this is the CPU-only build of gapm "
                            "(configure with -DGAPM_ENABLE_CUDA=ON)");
  return store_kind::cpu;
#endif
}

template <class T>
std::unique_ptr<store_backend<T>> make_store(store_kind kind, key_type first_key,
                                             const table_spec& table, const Options& options,
                                             [[maybe_unused]] int device) {
  const std::uint64_t requested = options.capacity == 0 ? table.num_keys : options.capacity;
  const std::uint64_t capacity = std::min(requested, table.num_keys);
#if GAPM_WITH_CUDA
  if (kind == store_kind::cuda)
    return make_cuda_store<T>(first_key, table.num_keys, table.row_length,
                              options.capacity == 0 ? 0 : capacity, options.capacity_fraction, device);
#endif
  GAPM_EXPECTS(kind == store_kind::cpu, "store kind not available in this build");
  return std::make_unique<cpu_store<T>>(first_key, table.num_keys, table.row_length, capacity);
}

template std::unique_ptr<store_backend<float>> make_store<float>(store_kind, key_type, const table_spec&,
                                                                 const Options&, int);
template std::unique_ptr<store_backend<double>> make_store<double>(store_kind, key_type, const table_spec&,
                                                                   const Options&, int);
template std::unique_ptr<store_backend<std::int64_t>> make_store<std::int64_t>(store_kind, key_type,
                                                                               const table_spec&,
                                                                               const Options&, int);

}  // namespace gapm::detail
