#include "comm/wire.hpp"

namespace gapm::detail::wire {

std::optional<message> decode(const void* data, std::size_t size, int world_size, std::string& error) {
  if (size < sizeof(header)) {
    error = "frame of " + std::to_string(size) + " bytes is shorter than the 48-byte header";
    return std::nullopt;
  }
  message msg;
  std::memcpy(&msg.head, data, sizeof(header));
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
    msg.payload.resize(h.payload_bytes);
    if (h.payload_bytes > 0)
      std::memcpy(msg.payload.data(), static_cast<const std::byte*>(data) + sizeof(header), h.payload_bytes);
    return msg;
  }
  return std::nullopt;
}

}  // namespace gapm::detail::wire
