// sync_messages: the typed messages of the adaptive layer — a replica holder's sync request,
// the owner's sync response, the owner's note to a key's home — with their encoding and their
// validation in one place. decode() throws wire::malformed_message before anything is used.
// Rows wait in pinned memory (host/store/pinned_memory.hpp): a device store copies them by DMA.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include <gapm/types.hpp>

#include "comm/wire.hpp"
#include "cuda/device_buffer.hpp"
#include "cuda/row_plane.hpp"
#include "host/adaptive/routing.hpp"
#include "host/common/key_space.hpp"
#include "host/store/pinned_memory.hpp"

namespace gapm::detail {

/// What one entry of a sync request carries and asks for (bits).
struct sync_ask {
  static constexpr std::uint8_t delta = 1;    ///< a replica delta follows, to merge into the main copy
  static constexpr std::uint8_t refresh = 2;  ///< the sender intends the key: refresh (or relocate) it
};

/// How the owner answers one refresh.
enum class sync_answer : std::uint8_t {
  current = 0,    ///< the replica expects a newer version than the main copy's: keep the value, take this
                  ///< version (an up-to-date replica gets no answer: the response's `handled` covers it)
  value = 1,      ///< the main copy's value follows: merge it
  relocated = 2,  ///< the main copy itself follows: the requester owns the key now
  relocated_shared = 3,  ///< the same, for a main copy that replicas may compare with (versioned)
};

/// A replica holder's request to the owners of its keys (one per peer per round; forwarded
/// entries travel on with routing hints).
template <class T>
struct sync_request {
  std::vector<key_type> keys;
  std::vector<std::uint8_t> asks;      // sync_ask bits
  std::vector<std::int64_t> versions;  // the main version the replica has seen (refresh entries)
  pinned_vector<T> deltas;             // the deltas of the entries that carry one, in order
  std::vector<std::int64_t> hints;     // routing hints: no_hint on a first hop
  std::vector<std::size_t> delta_at;   // (size + 1) where entry i's delta starts in `deltas`
  // With the data plane (cuda/row_plane.hpp) the deltas travel GPU to GPU instead: the replica
  // side takes them into `device_deltas` (in entry order), the owner finds them in `arrived`,
  // and `deltas` stays empty until someone copies them there (deltas_on_host()).
  device_buffer<std::byte> device_deltas;
  std::shared_ptr<received_rows> arrived;

  sync_request() : delta_at{0} {}
  [[nodiscard]] std::size_t size() const noexcept { return keys.size(); }
  [[nodiscard]] bool has_delta(std::size_t i) const noexcept { return (asks[i] & sync_ask::delta) != 0; }
  [[nodiscard]] bool wants_refresh(std::size_t i) const noexcept { return (asks[i] & sync_ask::refresh) != 0; }
  [[nodiscard]] std::span<const T> delta(std::size_t i) const noexcept {
    return std::span<const T>(deltas).subspan(delta_at[i], delta_at[i + 1] - delta_at[i]);
  }
  /// The values of all deltas (entries in order).
  [[nodiscard]] std::size_t delta_values() const noexcept { return delta_at.back(); }
  /// Whether the deltas are in `deltas` (else on the device: device_deltas or arrived).
  [[nodiscard]] bool deltas_on_host() const noexcept { return deltas.size() == delta_values(); }

  /// Appends an entry; `delta` is empty unless `ask` has sync_ask::delta.
  void add(key_type key, std::uint8_t ask, std::int64_t version, std::span<const T> delta,
           std::int64_t hint = no_hint);
  /// Appends an entry whose delta, `delta_length` values, the caller puts in place of the
  /// entries' deltas: `deltas`, or `device_deltas`.
  void add_placed(key_type key, std::uint8_t ask, std::int64_t version, std::size_t delta_length);
  /// The entries at `picks`, with `new_hints` (one per pick) when given.
  [[nodiscard]] sync_request pick(std::span<const std::uint32_t> picks,
                                  std::span<const std::int64_t> new_hints = {}) const;

  /// One frame: `head` (kind sync_request, count, hints flag set here) and the arrays (the
  /// deltas only when they are on the host: else they follow on the data plane).
  [[nodiscard]] std::vector<std::byte> encode(wire::header head) const;
  /// Validates keys (range, channel), asks, delta sizes (those on the data plane too), hints and
  /// the exact payload length.
  [[nodiscard]] static sync_request decode(const wire::message& m, const key_space& keys, int channels, int channel);
};

/// The owner's answer to the origin of a sync request: how many of its entries were handled
/// here, whether it acknowledges the request (it came straight from the origin), and the
/// answers to the refreshes handled here.
template <class T>
struct sync_response {
  std::uint64_t handled = 0;
  bool acknowledges = false;
  std::vector<key_type> keys;
  std::vector<sync_answer> answers;
  std::vector<std::int64_t> versions;  // the main copy's version
  std::vector<std::int64_t> counters;  // relocated: the relocation's counter
  pinned_vector<T> values;             // the rows of value and relocated answers, in order
  // With the data plane (cuda/row_plane.hpp) those rows travel GPU to GPU instead: the owner
  // gathers them into `device_values` (`device_size` values of it used), and the requester
  // finds them in `arrived` (`values` stays empty then).
  device_buffer<std::byte> device_values;
  std::size_t device_size = 0;
  std::shared_ptr<received_rows> arrived;

  void add(key_type key, sync_answer answer, std::int64_t version, std::int64_t counter = 0);
  /// Room for `n` more values of rows: in `device_values` when it was given, else in `values`.
  [[nodiscard]] T* append_values(std::size_t n);
  [[nodiscard]] std::vector<std::byte> encode(wire::header head) const;
  [[nodiscard]] static sync_response decode(const wire::message& m, const key_space& keys, int channels, int channel);
};

/// A relocation the owner tells the key's home about (the directory accepts newer counters).
struct directory_update {
  std::vector<key_type> keys;
  std::vector<int> owners;
  std::vector<std::int64_t> counters;

  [[nodiscard]] std::vector<std::byte> encode(wire::header head) const;
  /// Validates that every key is homed at `rank` and every owner is a node.
  [[nodiscard]] static directory_update decode(const wire::message& m, const key_space& keys, int rank, int world_size);
};

}  // namespace gapm::detail
