// The wire format of node-to-node messages: one ZeroMQ frame = a fixed, versioned header
// followed by a payload of typed arrays. Every frame is validated before it is used.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace gapm::detail {
class received_rows;  // cuda/row_plane.hpp
}

namespace gapm::detail::wire {

inline constexpr std::uint32_t magic = 0x4d504147;  // "GAPM" little-endian
inline constexpr std::uint16_t version = 3;

enum class kind : std::uint8_t {
  heartbeat = 1,    // keeps the peer's failure detector quiet
  bye,              // the sender leaves; request = its shutdown barrier's generation (0: not clean); payload: why
  barrier_enter,    // to rank 0: request = barrier generation
  barrier_release,  // from rank 0: request = barrier generation
  pull_request,     // keys[count], positions[count], hints[count] if forwarded
  pull_response,    // positions[count], rows
  push_request,     // keys[count], rows (additive), hints[count] if forwarded
  set_request,      // keys[count], rows (overwrite), hints[count] if forwarded
  write_ack,        // count = keys applied
  sync_request,     // worker = channel: keys, flags (1 delta, 2 refresh), versions, deltas, hints if forwarded
  sync_response,    // worker = channel: handled, ack, keys, flags (1 value, 2 relocate), versions, counters, values
  directory_update, // keys, owners, relocation counters (to the keys' home)
  step_request,     // a fused optimizer step: step, keys[count], gradients, hints[count] if forwarded
};
inline constexpr std::uint8_t last_kind = static_cast<std::uint8_t>(kind::step_request);

/// Header flags.
enum flag : std::uint8_t {
  redelivered = 1,  ///< not the first delivery: it waited here for a key in transit
  has_hints = 2,    ///< the payload ends with one routing hint per key (host/adaptive/routing.hpp)
  rows_on_plane = 4,  ///< the rows travel on the data plane: the payload ends with a plane_rows_note
};

/// Fixed 48-byte header; all fields little-endian (the only byte order gapm runs on).
struct header {
  std::uint32_t magic = wire::magic;
  std::uint16_t version = wire::version;
  std::uint8_t kind = 0;
  std::uint8_t flags = 0;
  std::int32_t sender = -1;  ///< the node that sent this frame
  std::int32_t origin = -1;  ///< the node that issued the request (differs when forwarded)
  std::int32_t worker = -1;  ///< the origin's worker waiting for the answer, or a sync channel
  std::uint16_t hops = 0;    ///< how often the request was forwarded
  std::uint16_t waited_ms = 0;  ///< how long it waited for keys in transit (saturating)
  std::uint64_t request = 0;  ///< the origin worker's ticket id, a sync round or a barrier generation
  std::uint64_t count = 0;    ///< number of keys (or positions) in the payload
  std::uint64_t payload_bytes = 0;

  [[nodiscard]] bool first_delivery() const noexcept { return hops == 0 && !(flags & redelivered); }
  [[nodiscard]] bool carries_hints() const noexcept { return (flags & has_hints) != 0; }

  // Fields that mean different things by kind, under their names.
  /// Pull, push and set requests and their answers: the origin's ticket.
  [[nodiscard]] std::uint64_t ticket() const noexcept { return request; }
  /// Sync messages: the channel (where requests carry the waiting worker) ...
  [[nodiscard]] int channel() const noexcept { return worker; }
  /// ... and the origin's round.
  [[nodiscard]] std::uint64_t round() const noexcept { return request; }
  /// Barrier messages: the barrier's generation.
  [[nodiscard]] std::uint64_t generation() const noexcept { return request; }
};
static_assert(sizeof(header) == 48 && std::is_trivially_copyable_v<header>);

/// A request is forwarded while the key it names moves; a longer chase is a routing loop.
/// Every hop passes at least one relocation of the key (host/adaptive/routing.hpp), but with
/// relocation_only a key that several nodes want moves every sync round, and a request on a
/// loaded machine can chase it for dozens of hops (64 was seen in CI). 1,024 hops take a real
/// loop a fraction of a second on loopback, and a legitimate chase about a second of ping-pong.
inline constexpr std::uint16_t max_hops = 1024;
/// How long a request may wait for a key in transit before that counts as lost (ms).
inline constexpr std::uint16_t max_wait_ms = 60000;

/// A frame that fails validation: it is dropped and counted before it changes anything.
/// Every other exception of a handler means an accepted message could not be applied, which
/// fails the cluster loudly (state may be lost otherwise).
class malformed_message : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The name of a message kind, for error messages.
[[nodiscard]] const char* kind_name(std::uint8_t kind) noexcept;

/// `head` passed on one more hop towards `key`'s owner. A request that chases its key longer
/// than max_hops is in a routing loop: throws std::runtime_error (which fails the cluster:
/// losing the request silently would lose its update).
[[nodiscard]] header forwarded(const header& head, std::uint64_t key);
/// `head` waiting here for `key`, which is on its way here. A request that has waited
/// max_wait_ms in all throws std::runtime_error (the key was lost).
[[nodiscard]] header parked(const header& head, std::uint64_t key);

/// The rows of a message that travel on the data plane (cuda/row_plane.hpp), not in its frame:
/// the frame names their transfer on the pipe from its sender, and their size.
struct plane_rows_note {
  std::uint64_t transfer = 0;
  std::uint64_t bytes = 0;
};

/// A message's payload: the bytes after the header of the frame it came in, which it keeps
/// (a frame of rows is not copied again on its way to the handlers).
class payload_bytes {
 public:
  payload_bytes() = default;
  /// The bytes of `frame` from `offset` on.
  payload_bytes(std::vector<std::byte> frame, std::size_t offset) noexcept
      : frame_{std::move(frame)}, offset_{offset} {}

  [[nodiscard]] const std::byte* data() const noexcept { return frame_.data() + offset_; }
  [[nodiscard]] std::byte* data() noexcept { return frame_.data() + offset_; }
  [[nodiscard]] std::size_t size() const noexcept { return frame_.size() - offset_; }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  std::byte& operator[](std::size_t i) noexcept { return data()[i]; }
  /// Keeps the first `n` bytes (n <= size()).
  void shrink_to(std::size_t n) { frame_.resize(offset_ + n); }
  void push_back(std::byte b) { frame_.push_back(b); }
  void pop_back() { frame_.pop_back(); }
  operator std::span<const std::byte>() const noexcept { return {data(), size()}; }  // NOLINT: a view

 private:
  std::vector<std::byte> frame_;
  std::size_t offset_ = 0;
};

struct message {
  header head;
  payload_bytes payload;
  /// The rows of a message flagged rows_on_plane, received on the data plane (the receive
  /// loop posts the receive); null otherwise.
  std::shared_ptr<received_rows> plane_rows;
  [[nodiscard]] enum kind kind() const noexcept { return static_cast<enum kind>(head.kind); }
};

/// Marks `frame` as one whose rows travel on the data plane, and appends their note.
void add_plane_rows_note(std::vector<std::byte>& frame, const plane_rows_note& note);
/// Sets the transfer number in the note at the end of such a frame (known only once its pipe
/// numbers it).
void set_plane_transfer(std::vector<std::byte>& frame, std::uint64_t transfer);
/// Removes the note (and the flag) from a message flagged rows_on_plane and returns it (nullopt
/// when the message is not flagged); throws malformed_message when the payload is too short.
[[nodiscard]] std::optional<plane_rows_note> take_plane_rows_note(message& m);
/// The rows that came on the data plane with `m`, checked to be `bytes` long (what its entries
/// say); null when its rows are in its payload. Throws malformed_message on a wrong size.
[[nodiscard]] std::shared_ptr<received_rows> plane_rows_of(const message& m, std::size_t bytes);

/// "<kind> from node S (origin O, count C, hops H, B payload bytes)", for error messages.
[[nodiscard]] std::string describe(const message& m);


/// One frame: the header (payload_bytes filled in) followed by the payload parts (contiguous
/// arrays of trivially copyable values), each copied once.
template <class... Arrays>
[[nodiscard]] std::vector<std::byte> encode(header head, const Arrays&... parts) {
  const std::array<std::span<const std::byte>, sizeof...(Arrays)> views{std::as_bytes(std::span(parts))...};
  std::size_t bytes = 0;
  for (const auto view : views) bytes += view.size();
  head.payload_bytes = bytes;
  std::vector<std::byte> frame(sizeof(header) + bytes);
  std::memcpy(frame.data(), &head, sizeof head);
  std::size_t at = sizeof head;
  for (const auto view : views) {
    if (!view.empty()) std::memcpy(frame.data() + at, view.data(), view.size());
    at += view.size();
  }
  return frame;
}

/// The message a frame built on this node holds (for delivery to this very node: no checks).
[[nodiscard]] inline message local_message(std::vector<std::byte> frame) {
  message msg;
  std::memcpy(&msg.head, frame.data(), sizeof(header));
  msg.payload = payload_bytes(std::move(frame), sizeof(header));
  return msg;
}

/// A message as decode() would return it, built locally (for delivery to this very node).
template <class... Arrays>
[[nodiscard]] message make_message(const header& head, const Arrays&... parts) {
  return local_message(encode(head, parts...));
}

/// Checks magic, version, kind, sender range and the payload size; the error says what is wrong.
/// The message keeps the frame (its payload is not copied).
[[nodiscard]] std::optional<message> decode(std::vector<std::byte> frame, int world_size, std::string& error);
/// The same for a frame in someone else's memory (copied).
[[nodiscard]] std::optional<message> decode(const void* data, std::size_t size, int world_size, std::string& error);

/// Reads typed arrays off a payload, refusing to read past its end.
class payload_reader {
 public:
  explicit payload_reader(std::span<const std::byte> payload) : rest_{payload} {}

  /// `n` values of type V (in a `Vector`, e.g. one in pinned memory for rows), or nullopt when
  /// fewer bytes remain.
  template <class V, class Vector = std::vector<V>>
  [[nodiscard]] std::optional<Vector> read(std::size_t n) {
    if (n > rest_.size() / sizeof(V)) return std::nullopt;
    Vector values(n);
    if (n > 0) std::memcpy(values.data(), rest_.data(), n * sizeof(V));
    rest_ = rest_.subspan(n * sizeof(V));
    return values;
  }
  [[nodiscard]] std::size_t remaining() const noexcept { return rest_.size(); }

 private:
  std::span<const std::byte> rest_;
};

}  // namespace gapm::detail::wire
