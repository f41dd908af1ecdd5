#include "comm/wire.hpp"

#include <cstddef>
#include <iterator>

#include "cuda/row_plane.hpp"  // received_rows
#include "host/common/expects.hpp"

namespace gapm::detail::wire {

const char* kind_name(std::uint8_t k) noexcept {
  static constexpr const char* names[] = {"none",         "heartbeat",     "bye",          "barrier_enter",
                                          "barrier_release", "pull_request", "pull_response", "push_request",
                                          "set_request",  "write_ack",     "sync_request", "sync_response",
                                          "directory_update", "step_request"};
  static_assert(std::size(names) == last_kind + 1);
  return k < std::size(names) ? names[k] : "unknown";
}

std::string describe(const message& m) {
  return std::string(kind_name(m.head.kind)) + " from node " + std::to_string(m.head.sender) + " (origin " +
         std::to_string(m.head.origin) + ", count " + std::to_string(m.head.count) + ", hops " +
         std::to_string(m.head.hops) + ", " + std::to_string(m.payload.size()) + " payload bytes)";
}

header forwarded(const header& head, std::uint64_t key) {
  if (head.hops >= max_hops)
    throw std::runtime_error("a " + std::string(kind_name(head.kind)) + " for key " + std::to_string(key) +
                             " was forwarded " + std::to_string(head.hops) +
                             " times without reaching the key's owner (a routing loop)");
  header next = head;
  next.hops = static_cast<std::uint16_t>(head.hops + 1);
  return next;
}

header parked(const header& head, std::uint64_t key) {
  if (head.waited_ms >= max_wait_ms)
    throw std::runtime_error("a " + std::string(kind_name(head.kind)) + " for key " + std::to_string(key) +
                             " waited " + std::to_string(head.waited_ms) +
                             " ms for the key to arrive, and it never did");
  header next = head;
  next.flags = static_cast<std::uint8_t>(next.flags | redelivered);
  return next;
}

void add_plane_rows_note(std::vector<std::byte>& frame, const plane_rows_note& note) {
  header head;
  std::memcpy(&head, frame.data(), sizeof head);
  head.flags = static_cast<std::uint8_t>(head.flags | rows_on_plane);
  head.payload_bytes += sizeof note;
  std::memcpy(frame.data(), &head, sizeof head);
  const auto* bytes = reinterpret_cast<const std::byte*>(&note);
  frame.insert(frame.end(), bytes, bytes + sizeof note);
}

void set_plane_transfer(std::vector<std::byte>& frame, std::uint64_t transfer) {
  std::memcpy(frame.data() + frame.size() - sizeof(plane_rows_note) + offsetof(plane_rows_note, transfer), &transfer,
              sizeof transfer);
}

std::optional<plane_rows_note> take_plane_rows_note(message& m) {
  if (!(m.head.flags & rows_on_plane)) return std::nullopt;
  plane_rows_note note;
  if (m.payload.size() < sizeof note) throw malformed_message("a frame with rows on the data plane has no note of them");
  std::memcpy(&note, m.payload.data() + m.payload.size() - sizeof note, sizeof note);
  m.payload.shrink_to(m.payload.size() - sizeof note);
  m.head.payload_bytes = m.payload.size();
  // The rows are the message's own now (plane_rows): a message made from this one (forwarded,
  // parked) carries them in its frame.
  m.head.flags = static_cast<std::uint8_t>(m.head.flags & ~rows_on_plane);
  return note;
}

std::shared_ptr<received_rows> plane_rows_of(const message& m, std::size_t bytes) {
  if (m.plane_rows && m.plane_rows->bytes() != bytes)
    throw malformed_message(concat(kind_name(m.head.kind), ": ", m.plane_rows->bytes(),
                                   " bytes of rows on the data plane where its entries make ", bytes));
  return m.plane_rows;
}

std::optional<message> decode(const void* data, std::size_t size, int world_size, std::string& error) {
  const auto* bytes = static_cast<const std::byte*>(data);
  return decode(std::vector<std::byte>(bytes, bytes + size), world_size, error);
}

std::optional<message> decode(std::vector<std::byte> frame, int world_size, std::string& error) {
  const std::size_t size = frame.size();
  if (size < sizeof(header)) {
    error = "frame of " + std::to_string(size) + " bytes is shorter than the 48-byte header";
    return std::nullopt;
  }
  message msg;
  std::memcpy(&msg.head, frame.data(), sizeof(header));
  const header& h = msg.head;
  if (h.magic != magic) {
    error = "bad magic number (not a gapm frame)";
  } else if (h.version != version) {
    error = "wire version " + std::to_string(h.version) + " (this node speaks " + std::to_string(version) + ")";
  } else if (h.kind == 0 || h.kind > last_kind) {
    error = "unknown message kind " + std::to_string(h.kind);
  } else if (h.sender < 0 || h.sender >= world_size) {
    error = "sender rank " + std::to_string(h.sender) + " is outside [0, " + std::to_string(world_size) + ")";
  } else if (h.payload_bytes != size - sizeof(header)) {
    error = "header announces " + std::to_string(h.payload_bytes) + " payload bytes, frame has " +
            std::to_string(size - sizeof(header));
  } else {
    msg.payload = payload_bytes(std::move(frame), sizeof(header));
    return msg;
  }
  return std::nullopt;
}

}  // namespace gapm::detail::wire
