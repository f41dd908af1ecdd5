// row_plane: the data plane for row payloads between nodes that each have their own GPU. Rows
// go from a device buffer on one node to a device buffer on another over pipe_links (NCCL),
// while the message that names them (keys, versions, flags) travels on the TCP control plane
// with the transfer's number. Host code on a device_runtime, so that all of it but the links'
// own calls runs in CPU-only CI on the emulated device.
//
// Order: every pipe (one per ordered pair of nodes) has its own stream at each end, and a
// transfer's number is its place in the pipe. A sender takes the number and announces the
// transfer (sends the control message) under the pipe's lock, so control messages reach the
// receiver in pipe order; the receiver enqueues its half when the message arrives, and checks
// the number. Why this cannot deadlock: docs/ARCHITECTURE.md, "Data plane".
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cuda/device_buffer.hpp"
#include "cuda/device_runtime.hpp"
#include "cuda/pipe_links.hpp"

namespace gapm::detail {

/// An event this code made and destroys (destroying one still pending is fine: the runtime
/// releases it once it completes).
class owned_event {
 public:
  owned_event() noexcept = default;
  /// An event of `device` (made there, and destroyed there by whatever thread lets it go).
  owned_event(device_runtime& runtime, int device) : runtime_{&runtime}, device_{device} {
    device_scope scope{runtime, device};
    event_ = runtime.create_event();
  }
  ~owned_event() {
    if (event_ == nullptr) return;
    device_scope scope{*runtime_, device_};
    runtime_->destroy_event(event_);
  }
  owned_event(owned_event&& other) noexcept
      : runtime_{other.runtime_}, device_{other.device_}, event_{std::exchange(other.event_, nullptr)} {}
  owned_event& operator=(owned_event&& other) noexcept {
    std::swap(runtime_, other.runtime_);
    std::swap(device_, other.device_);
    std::swap(event_, other.event_);
    return *this;
  }
  [[nodiscard]] device_event get() const noexcept { return event_; }

 private:
  device_runtime* runtime_ = nullptr;
  int device_ = 0;
  device_event event_ = nullptr;
};

/// A stream this code made, destroyed (on its device) by whoever holds it last: a pipe's stream
/// lives on in the rows received on it after the plane is gone (a message still queued then).
class shared_stream {
 public:
  shared_stream(device_runtime& runtime, int device) : runtime_{runtime}, device_{device} {
    device_scope scope{runtime_, device_};
    stream_ = runtime_.create_stream();
  }
  ~shared_stream() {
    device_scope scope{runtime_, device_};
    runtime_.destroy_stream(stream_);  // work still queued on it completes first
  }
  shared_stream(const shared_stream&) = delete;
  shared_stream& operator=(const shared_stream&) = delete;
  [[nodiscard]] device_stream get() const noexcept { return stream_; }

 private:
  device_runtime& runtime_;
  int device_;
  device_stream stream_ = nullptr;
};

/// Rows that came over the plane: device memory of this node, there once `arrived` completes.
class received_rows {
 public:
  received_rows(device_runtime& runtime, int device, std::shared_ptr<shared_stream> pipe,
                device_buffer<std::byte> rows, owned_event arrived)
      : runtime_{&runtime},
        device_{device},
        pipe_{std::move(pipe)},
        rows_{std::move(rows)},
        arrived_{std::move(arrived)} {}
  /// Frees the rows on the node's device, whatever thread lets go of them last.
  ~received_rows() {
    device_scope scope{*runtime_, device_};
    rows_ = {};
    arrived_ = {};
  }
  received_rows(received_rows&&) noexcept = default;
  received_rows& operator=(received_rows&&) = delete;

  [[nodiscard]] std::size_t bytes() const noexcept { return rows_.bytes(); }
  /// The rows, for work enqueued on `stream` after this call (which waits for their arrival).
  /// Keep this object until that work has completed (synchronize `stream`): the rows are freed
  /// in their pipe's order once it is gone. Call on the node's device.
  [[nodiscard]] const std::byte* use_on(device_stream stream);
  /// Copies the rows to host memory (`out`, bytes() long) and waits for them.
  void copy_to_host(std::byte* out, device_stream stream);

 private:
  device_runtime* runtime_;
  int device_;
  std::shared_ptr<shared_stream> pipe_;  // the rows are freed on it: it goes last
  device_buffer<std::byte> rows_;
  owned_event arrived_;
};

class row_plane {
 public:
  /// The plane of node `rank` over `links`, on `device` (its pipes' streams are made there).
  /// Connects every pipe now (one byte each, in pipe_schedule's order, both ends at once: links
  /// like NCCL's connect on a pipe's first transfer, and that first call waits for the other
  /// end's), within `patience`; throws comm_error when the nodes do not all get there in time.
  row_plane(device_runtime& runtime, int device, int rank, int world_size, std::string_view kind,
            std::unique_ptr<pipe_links> links, std::chrono::milliseconds patience);
  ~row_plane();  ///< close(5 s), unless closed or aborted before
  row_plane(const row_plane&) = delete;
  row_plane& operator=(const row_plane&) = delete;

  /// "nccl", or the emulation's name.
  [[nodiscard]] std::string_view kind() const noexcept { return kind_; }
  [[nodiscard]] int device() const noexcept { return device_; }
  [[nodiscard]] device_runtime& runtime() const noexcept { return runtime_; }

  /// Sends the first `bytes` bytes of `rows` (device memory of this node, filled by work before
  /// `ready` completes; null: already there) to `peer` as its pipe's next transfer, and calls
  /// `announce` with the transfer's number while no other transfer to `peer` can take one: the
  /// control message that names it must leave from there. The plane frees `rows` once they are
  /// sent. Returns the number.
  std::uint64_t send(int peer, device_buffer<std::byte> rows, std::size_t bytes, device_event ready,
                     const std::function<void(std::uint64_t)>& announce);
  /// Receives transfer `transfer` of `bytes` bytes from `peer`, which must be the pipe's next
  /// one: otherwise the pipes are out of step, which no later transfer repairs (throws comm_error).
  /// Both throw comm_error once the plane was aborted.
  [[nodiscard]] received_rows receive(int peer, std::uint64_t transfer, std::size_t bytes);

  /// A failure of the links so far, or "" (the cluster polls it).
  [[nodiscard]] std::string failure() { return links_->failure(); }
  /// Ends every transfer in flight (the cluster failed); idempotent. Thread-safe.
  void abort() noexcept;
  /// A clean end: waits up to `patience` for the transfers in flight, then ends the rest (a
  /// peer that left without receiving an answer nobody waits for any more must not hold this
  /// node). Call once no thread sends or receives any more.
  void close(std::chrono::milliseconds patience) noexcept;

 private:
  struct pipe {
    std::mutex mutex;
    std::shared_ptr<shared_stream> stream;
    std::uint64_t next = 0;  // the number of the pipe's next transfer
  };
  pipe& pipe_to(std::vector<std::unique_ptr<pipe>>& pipes, int peer);
  void throw_if_aborted() const;
  void connect_pipes(int world_size, std::chrono::milliseconds patience);

  device_runtime& runtime_;
  int device_;
  int rank_;
  std::string kind_;
  std::unique_ptr<pipe_links> links_;
  std::vector<std::unique_ptr<pipe>> out_, in_;  // by peer; none for this node
  std::atomic<bool> aborted_{false};
  bool closed_ = false;
};

}  // namespace gapm::detail
