// worker_ops<T>: the worker side of pull, push, set and intent. Validate everything first
// (a call that throws has changed nothing), serve what is local at once, send the rest where
// the key is thought to live (host/adaptive/routing.hpp) and hand back a ticket for it.
#pragma once

#include <functional>
#include <optional>
#include <span>

#include <gapm/optimizer.hpp>
#include <gapm/types.hpp>

#include "host/runtime/node_parts.hpp"
#include "host/runtime/plane_rows.hpp"
#include "host/runtime/worker_state.hpp"

namespace gapm::detail {

/// How a worker operation was called.
struct call_mode {
  stream_view stream{};
  bool blocking = true;                      ///< synchronise the stream before returning
  std::optional<std::size_t> buffer_values;  ///< span overloads: the value buffer's length, checked
};

template <class T>
class worker_ops {
 public:
  explicit worker_ops(node_parts<T>& node) : node_{node} {}

  Ticket pull(worker_state& worker, const key_type* keys, std::size_t n, T* out, call_mode mode = {});
  Ticket write(worker_state& worker, write_kind kind, const key_type* keys, std::size_t n, const T* rows,
               call_mode mode = {});
  void intent(worker_state& worker, const key_type* keys, std::size_t n, clock_type start, clock_type end);
  /// A fused optimizer step (Worker::apply_step); mode.buffer_values checks the gradients.
  Ticket apply_step(worker_state& worker, const key_type* keys, std::size_t n, const T* grads,
                    const optimizer_step& step, call_mode mode = {});

  /// Finished remote pulls into device buffers: copies their rows from host staging to the
  /// device in each pull's stream order, on the calling (worker) thread; a blocking pull's
  /// copy is complete on return. One ticket, or every arrived pull when `ticket` is empty.
  void deliver_arrived_pulls(worker_state& worker, std::optional<std::uint64_t> ticket);

 private:
  // Keys in host memory (a copy when the caller's are device memory), validated; for the span
  // overloads also the value buffer's length.
  const key_type* checked_keys(worker_state& worker, const key_type* keys, std::size_t n, const char* operation,
                               std::optional<std::size_t> buffer_values, stream_view stream);
  void check_stream(stream_view stream) const;
  // A set with a repeated key keeps the key's last row: the rows of the last occurrences.
  void keep_last_rows(const key_type*& keys, std::size_t& n, const T*& rows, std::vector<key_type>& unique_keys,
                      std::vector<T>& unique_rows, stream_view stream);
  Ticket pull_remote(worker_state& worker, const key_type* keys, std::size_t n, T* out, const call_mode& mode);
  Ticket write_remote(worker_state& worker, write_kind kind, const key_type* keys, std::size_t n, const T* rows,
                      stream_view stream);
  // A step with repeated keys: each distinct key once, its gradients summed (host memory).
  void sum_repeated(const key_type*& keys, std::size_t& n, const T*& grads, std::uint32_t factor,
                    std::vector<key_type>& unique_keys, std::vector<T>& summed, stream_view stream);
  Ticket step_remote(worker_state& worker, const key_type* keys, std::size_t n, const T* grads,
                     const optimizer_step& step, stream_view stream);
  // Sends a request; the caller gets the exception (comm_error) when the cluster has failed.
  void send_request(int node, std::vector<std::byte>&& frame);
  // Sends a write request carrying the picked entries' rows: on the data plane where `source`
  // takes it, else in the frame. encode(rows) makes the frame (rows empty: they go on the plane).
  void send_rows(int node, outgoing_rows<T>& source, std::span<const std::uint32_t> picks,
                 const std::function<std::vector<std::byte>(std::span<const T>)>& encode);

  node_parts<T>& node_;
};

}  // namespace gapm::detail
