// cluster: its part in the data plane (cuda/row_plane.hpp). Joining it after the rendezvous,
// sending a frame whose rows follow on the plane, posting the receive of such rows when their
// frame arrives, and failing the cluster when the plane fails.
#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <stdexcept>

#include <gapm/errors.hpp>

#include "comm/cluster.hpp"
#include "cuda/device_platform.hpp"
#include "cuda/row_plane.hpp"
#include "host/common/expects.hpp"

namespace gapm::detail {

void cluster::join_data_plane(const cluster_env& env, const rendezvous_result& joined,
                              std::chrono::nanoseconds patience) {
  if (!joined.plane_id.empty()) {
    const device_platform& platform = *active_device_platform();  // every node has one: the rendezvous checked
    const int device = platform.device_for(env.local_rank);
    device_scope scope{platform.runtime, device};
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(patience);
    auto links = platform.links->connect(platform.runtime, device, rank_, world_size_, joined.plane_id, wait);
    plane_ = std::make_unique<row_plane>(platform.runtime, device, rank_, world_size_, platform.links->name(),
                                         std::move(links), wait);
  }
  if (rank_ == 0)
    std::cerr << "gapm: data plane: " << (plane_ ? std::string(plane_->kind()) : std::string("tcp")) << ", "
              << (plane_ ? "rows GPU to GPU, keys and flags over TCP" : "rows in the TCP frames") << " ("
              << joined.data_plane_why << ")\n";
}

comm_result cluster::send_frame_with_rows(int peer, std::vector<std::byte> frame, device_buffer<std::byte> rows,
                                          std::size_t bytes, device_event ready) {
  GAPM_EXPECTS(plane_ != nullptr, "send_frame_with_rows without a data plane");
  if (frame.size() < sizeof(wire::header)) return comm_result::failure("a frame shorter than its header");
  if (departed_[static_cast<std::size_t>(peer)].load())  // nothing posted for a peer that is gone
    return comm_result::failure("node " + std::to_string(peer) + " has left the cluster");
  wire::add_plane_rows_note(frame, {.transfer = 0, .bytes = bytes});
  comm_result result;
  try {
    // The frame leaves while no other transfer to `peer` can take a number: frames of the
    // pipe's transfers reach the peer in the pipe's order.
    (void)plane_->send(peer, std::move(rows), bytes, ready, [&](std::uint64_t transfer) {
      wire::set_plane_transfer(frame, transfer);
      result = send_frame(peer, std::move(frame));
    });
  } catch (const comm_error& e) {  // aborted: the cluster has failed
    return comm_result::failure(e.what());
  }
  // A transfer whose frame did not leave can never be received: the pipe is broken for good
  // (unless the peer has just left, which the peers' leave handles).
  if (!result.ok() && !departed_[static_cast<std::size_t>(peer)].load())
    fail(concat("data plane: the frame of a transfer to node ", peer, " could not be sent: ", result.error));
  if (result.ok()) traffic_.plane_bytes_sent.fetch_add(bytes, std::memory_order_relaxed);
  return result;
}

void cluster::receive_plane_rows(wire::message& message) {
  if (!(message.head.flags & wire::rows_on_plane)) return;
  if (!plane_) throw wire::malformed_message("rows on a data plane this cluster does not have");
  if (failed()) return;  // nothing is applied any more, and the plane is aborted
  std::optional<wire::plane_rows_note> note;
  try {
    note = wire::take_plane_rows_note(message);
  } catch (const wire::malformed_message& e) {
    // Not a frame to drop and forget: its transfer is never received, so the pipe is broken.
    throw std::runtime_error(concat("the pipe from node ", message.head.sender, " is broken: ", e.what()));
  }
  // Posted now, in the order the frames came: a pipe's transfers are received in its order.
  message.plane_rows = std::make_shared<received_rows>(plane_->receive(message.head.sender, note->transfer, note->bytes));
  traffic_.plane_bytes_received.fetch_add(note->bytes, std::memory_order_relaxed);
}

void cluster::check_data_plane() {
  if (!plane_ || failed()) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - plane_checked_ < std::chrono::milliseconds{100}) return;
  plane_checked_ = now;
  if (const std::string why = plane_->failure(); !why.empty()) fail("data plane: " + why);
}

}  // namespace gapm::detail
