// request_server<T>: the receive side of a node (the cluster's receive thread calls it):
// serves the pull, push and set requests of peers from the main copies here, passes on what
// is held elsewhere (host/adaptive/routing.hpp), applies the answers to this node's own
// requests, hands sync messages to their channel and applies directory updates. Every payload
// is validated before it touches memory: a malformed one throws wire::malformed_message (the
// cluster drops and counts it); any other exception fails the cluster.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "comm/cluster.hpp"
#include "cuda/row_plane.hpp"
#include "host/adaptive/batch_routes.hpp"
#include "host/runtime/node_parts.hpp"

namespace gapm::detail {

template <class T>
class request_server final : public message_handler {
 public:
  explicit request_server(node_parts<T>& node) : node_{node} {}

  void on_message(wire::message&& message) override;
  std::chrono::milliseconds on_idle() override;
  void on_failure(const std::string& reason) override;

 private:
  void serve_pull(const wire::message& message);
  void serve_write(const wire::message& message);
  void serve_step(const wire::message& message);
  void acknowledge(const wire::header& head, std::size_t keys);  // a write_ack for keys applied here
  void apply_pull_response(const wire::message& message);
  void apply_write_ack(const wire::message& message);
  void apply_directory_update(const wire::message& message);
  [[nodiscard]] std::vector<std::int64_t> read_hints(wire::payload_reader& in, const wire::header& head) const;
  void check_origin(const wire::header& head) const;
  // Forwards the entries routed elsewhere and parks those waiting for a key on its way here;
  // pick_payload(picks) gives the per-key payload array of the picked entries.
  void pass_on(const wire::header& head, const batch_routes& routes, std::span<const key_type> keys,
               std::span<const std::int64_t> hints, const auto& pick_payload);
  void answered(const wire::header& head);  // counts an answer to this node's request
  // Rows of a pull into a device buffer that came on the data plane (`rows`, device memory,
  // arrived) go to the pull's device staging, at the places of `positions`.
  void stage_on_device(pending_pull& pull, std::span<const std::uint32_t> positions, const T* rows);

  node_parts<T>& node_;
  owned_event gathered_;  // with the data plane: a pull response's rows are there
};

}  // namespace gapm::detail
