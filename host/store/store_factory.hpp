// make_store: picks and builds the store backend of one table.
#pragma once

#include <memory>
#include <string>

#include <gapm/options.hpp>

#include "host/store/store_backend.hpp"

namespace gapm::detail {

/// Resolves store_kind::auto_select (cuda when the process has a device platform with a device).
/// Throws unsupported_error when `cuda` is asked for but cannot be had, saying why.
[[nodiscard]] store_kind resolve_store_kind(store_kind requested);

/// The backend for keys [first_key, first_key + table.num_keys) of one table, `home` the keys
/// this node is home for. `device` is the GPU ordinal used by the device backend, which
/// allocates the replicas' sync_state up front when `replicas_possible`.
template <class T>
[[nodiscard]] std::unique_ptr<store_backend<T>> make_store(store_kind kind, key_type first_key,
                                                           const table_spec& table, home_keys home,
                                                           const Options& options, int device, bool replicas_possible);

}  // namespace gapm::detail
